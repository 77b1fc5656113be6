"""The booking lifecycle (pure): which moves are allowed, and which free the technician, bay and parts."""

from __future__ import annotations

from itertools import product

import pytest

from api.bookings.lifecycle import (
    HOLDS_CAPACITY,
    BookingState,
    InvalidBookingTransition,
    allowed_transitions,
    check_transition,
    releases_capacity,
)
from store.service_tables import BOOKING_STATES, CAPACITY_BOOKING_STATES

S = BookingState
ALLOWED = {
    (S.PROPOSED, S.CONFIRMED),
    (S.PROPOSED, S.CANCELLED),
    (S.CONFIRMED, S.IN_SERVICE),
    (S.CONFIRMED, S.CANCELLED),
    (S.IN_SERVICE, S.COMPLETED),
}


@pytest.mark.parametrize(("current", "requested"), sorted(ALLOWED))
def test_allowed_moves(current: BookingState, requested: BookingState) -> None:
    check_transition(current, requested)
    assert requested in allowed_transitions(current)


@pytest.mark.parametrize(("current", "requested"), [p for p in product(S, S) if p not in ALLOWED])
def test_refused_moves_name_the_allowed_states(current: BookingState, requested: BookingState) -> None:
    with pytest.raises(InvalidBookingTransition) as refused:
        check_transition(current, requested)
    assert refused.value.allowed == {b for a, b in ALLOWED if a is current}
    assert requested.value in str(refused.value)


def test_final_states_and_the_database_agree() -> None:
    assert allowed_transitions(S.COMPLETED) == allowed_transitions(S.CANCELLED) == frozenset()
    assert {s.value for s in S} == set(BOOKING_STATES)
    assert {s.value for s in HOLDS_CAPACITY} == set(CAPACITY_BOOKING_STATES)  # what the exclusion constraints cover


def test_only_leaving_a_capacity_state_releases_capacity() -> None:
    assert releases_capacity(S.CONFIRMED, S.CANCELLED)
    assert releases_capacity(S.IN_SERVICE, S.COMPLETED)
    assert not releases_capacity(S.PROPOSED, S.CANCELLED)  # a proposal held nothing
    assert not releases_capacity(S.CONFIRMED, S.IN_SERVICE)  # the car is in: still held
