"""Routes of the vehicles domain (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from api.errors import ERROR_RESPONSES

router = APIRouter(tags=["vehicles"], responses=ERROR_RESPONSES)
