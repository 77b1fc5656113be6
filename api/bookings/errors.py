"""Errors of the bookings domain, as API errors with their own codes."""

from __future__ import annotations

from api.errors import Conflict


class SlotTaken(Conflict):
    """Another booking holds the technician or the bay for part of the period (409 slot_taken)."""

    code = "slot_taken"


class PartsUnavailable(Conflict):
    """The store cannot have every part by the slot's day (409 parts_unavailable)."""

    code = "parts_unavailable"


class NoSlot(Conflict):
    """No slot fits within the store's booking horizon (409 no_slot)."""

    code = "no_slot"
