"""Who is calling and which stores they may see: the one place where tenant filtering happens.

Every query of a tenant-owned table goes through `StoreScope`: `scope.where(table)` for lists and
`scope.get(...)` for one row. A row of another store answers 404, exactly like a row that does not
exist, so ids of other tenants are not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, select

from api.errors import Forbidden, NotFound


class Role(StrEnum):
    SERVICE_MANAGER = "service_manager"
    SERVICE_ADVISOR = "service_advisor"
    TECHNICIAN = "technician"
    INTEGRATION = "integration"
    GROUP_ADMIN = "group_admin"


STAFF = frozenset({Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR, Role.GROUP_ADMIN})
MANAGERS = frozenset({Role.SERVICE_MANAGER, Role.GROUP_ADMIN})
EVERYONE = frozenset(Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated person (JWT) or integration (API key)."""

    kind: str  # "user" or "key"
    id: int
    name: str
    role: Role
    group_id: int
    store_id: int | None  # None: every store of the group
    store_ids: frozenset[int]
    language: str = "zh"

    @property
    def actor(self) -> str:
        """The name recorded on transitions and audit rows."""
        return f"{self.kind}:{self.name}"

    def require(self, allowed: frozenset[Role]) -> None:
        if self.role not in allowed:
            names = ", ".join(sorted(allowed))
            raise Forbidden(f"role {self.role} may not do this; allowed: {names}")


@dataclass(frozen=True, slots=True)
class StoreScope:
    """The stores a principal may see, applied to queries."""

    store_ids: frozenset[int]

    def where(self, table: Table) -> ColumnElement[bool]:
        """Filter rows of `table` to the scope's stores."""
        return table.c.store_id.in_(sorted(self.store_ids))

    def owns(self, store_id: int) -> bool:
        return store_id in self.store_ids

    def check(self, store_id: int, what: str = "store") -> int:
        """Return `store_id` if in scope; raise NotFound otherwise."""
        if store_id not in self.store_ids:
            raise NotFound(f"no {what} {store_id}")
        return store_id

    def get(self, conn: Connection, table: Table, key: Any, *, what: str, lock: bool = False) -> Row[Any]:
        """Return the row of `table` with primary key `key` in scope; raise NotFound otherwise."""
        (pk,) = table.primary_key.columns
        query = select(table).where(pk == key, self.where(table))
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no {what} {key}")
        return row

    def single_store(self, requested: int | None) -> int:
        """Pick the store a creation belongs to: the requested one, or the only one in scope."""
        if requested is not None:
            return self.check(requested)
        if len(self.store_ids) == 1:
            return next(iter(self.store_ids))
        raise NotFound("store_id is required for a group-wide caller")
