"""Routes of the bookings domain (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from api.errors import ERROR_RESPONSES

router = APIRouter(tags=["bookings"], responses=ERROR_RESPONSES)
