"""Routes of the work orders domain (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from api.errors import ERROR_RESPONSES

router = APIRouter(tags=["work-orders"], responses=ERROR_RESPONSES)
