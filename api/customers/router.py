"""Customer routes: list and search, create, read with vehicles, change contact and consent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.customers import service
from api.customers.schemas import CustomerDetail, CustomerIn, CustomerOut, CustomerPatch
from api.db import Db
from api.deps import Scope, Staff, StaffOrIntegration
from api.errors import ERROR_RESPONSES
from api.pagination import Page

router = APIRouter(tags=["customers"], responses=ERROR_RESPONSES)


@router.get("/customers", response_model=Page[CustomerOut], summary="List and search customers")
def list_customers(
    db: Db,
    _: StaffOrIntegration,
    scope: Scope,
    q: Annotated[str | None, Query(max_length=100, description="part of the name or of the phone number")] = None,
    store_id: int | None = None,
    consent_proactive_contact: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[CustomerOut]:
    """Customers of the caller's stores in creation order, searched by name or phone."""
    return service.list_customers(
        db,
        scope=scope,
        q=q,
        store_id=store_id,
        consent_proactive_contact=consent_proactive_contact,
        cursor=cursor,
        limit=limit,
    )


@router.post("/customers", response_model=CustomerDetail, status_code=201, summary="Create a customer")
def create_customer(body: CustomerIn, db: Db, _: Staff, scope: Scope) -> CustomerDetail:
    """Create a customer; the preferred channel needs its contact detail (phone, email or wechat_id)."""
    return service.create_customer(db, scope=scope, body=body)


@router.get("/customers/{customer_id}", response_model=CustomerDetail, summary="Read a customer")
def get_customer(customer_id: int, db: Db, _: StaffOrIntegration, scope: Scope) -> CustomerDetail:
    """One customer with contact details, consents and vehicles."""
    return service.get_customer(db, scope=scope, customer_id=customer_id)


@router.patch("/customers/{customer_id}", response_model=CustomerDetail, summary="Change a customer")
def update_customer(customer_id: int, body: CustomerPatch, db: Db, _: Staff, scope: Scope) -> CustomerDetail:
    """Change contact details, language, channel or consents (only the fields sent).

    Withdrawing `consent_telematics` revokes the active devices of the customer's vehicles at once.
    """
    return service.update_customer(db, scope=scope, customer_id=customer_id, body=body, now=datetime.now(UTC))
