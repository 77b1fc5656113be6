"""Booking lifecycle (pure): proposed -> confirmed -> in_service -> completed, and cancelled.

A proposed booking holds nothing; confirmed and in_service hold a technician, a bay and parts (the
database's exclusion constraints and stock check enforce it). Cancelling is possible until the car
is in service; from then on the work order decides and the booking completes.
"""

from __future__ import annotations

from enum import StrEnum


class BookingState(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    IN_SERVICE = "in_service"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


HOLDS_CAPACITY: frozenset[BookingState] = frozenset({BookingState.CONFIRMED, BookingState.IN_SERVICE})
_TRANSITIONS: dict[BookingState, frozenset[BookingState]] = {
    BookingState.PROPOSED: frozenset({BookingState.CONFIRMED, BookingState.CANCELLED}),
    BookingState.CONFIRMED: frozenset({BookingState.IN_SERVICE, BookingState.CANCELLED}),
    BookingState.IN_SERVICE: frozenset({BookingState.COMPLETED}),
    BookingState.COMPLETED: frozenset(),
    BookingState.CANCELLED: frozenset(),
}


class InvalidBookingTransition(Exception):  # noqa: N818 (named for the domain)
    """The booking's state does not lead to the requested one; `allowed` lists the states that it does."""

    def __init__(self, current: BookingState, requested: BookingState) -> None:
        self.current = current
        self.requested = requested
        self.allowed = allowed_transitions(current)
        names = ", ".join(sorted(self.allowed)) or "none (final state)"
        super().__init__(f"booking is {current}; cannot go to {requested}; allowed: {names}")


def allowed_transitions(state: BookingState) -> frozenset[BookingState]:
    """Return the states a booking in `state` may move to (empty for final states)."""
    return _TRANSITIONS[state]


def check_transition(current: BookingState, requested: BookingState) -> None:
    """Raise InvalidBookingTransition unless a booking may move from `current` to `requested`."""
    if requested not in _TRANSITIONS[current]:
        raise InvalidBookingTransition(current, requested)


def releases_capacity(current: BookingState, requested: BookingState) -> bool:
    """Tell whether the move frees the technician, bay and reserved parts."""
    return current in HOLDS_CAPACITY and requested not in HOLDS_CAPACITY
