"""Routes of the store dashboard and calendar views (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from api.errors import ERROR_RESPONSES

router = APIRouter(tags=["dashboard"], responses=ERROR_RESPONSES)
