"""Driver profiles and speed traces: plausible, seeded."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from statistics import mean

from simulators.trips import Profile, RoadKind, Trip, grade_pct, speed_trace, trips_on

MONDAY = date(2026, 11, 23)


def test_commuters_drive_morning_and_evening_on_workdays() -> None:
    days = [MONDAY + timedelta(days=d) for d in range(5)]
    trips = [trip for day in days for trip in trips_on(day, Profile.COMMUTER, seed=1)]
    assert 8 <= len(trips) <= 10
    mornings = [t for t in trips if t.start.hour < 12]
    assert mornings and all(6 <= t.start.hour <= 9 for t in mornings)
    assert all(t.start.tzinfo is not None for t in trips)


def test_short_trippers_never_drive_long() -> None:
    trips = [t for d in range(14) for t in trips_on(MONDAY + timedelta(days=d), Profile.SHORT_TRIPS, seed=2)]
    assert len(trips) > 30 and max(t.minutes for t in trips) <= 8


def test_weekenders_park_all_week() -> None:
    trips = [t for d in range(28) for t in trips_on(MONDAY + timedelta(days=d), Profile.WEEKENDER, seed=3)]
    assert len(trips) <= 4 and all(t.start.weekday() == 5 for t in trips)


def test_speed_traces_are_plausible_and_seeded() -> None:
    town = trips_on(MONDAY, Profile.COMMUTER, seed=4)[0]
    trace = speed_trace(town, seed=4)
    assert trace == speed_trace(town, seed=4)
    assert trace[0] == 0.0 and trace[-1] == 0.0 and max(trace) < 110
    assert all(b - a <= 4.0 + 1e-9 for a, b in itertools.pairwise(trace))  # no rocket starts
    assert sum(1 for s in trace if s < 1) > 30  # town traffic stops
    highway = Trip(town.start, 60, RoadKind.HIGHWAY)
    assert 80 < mean(speed_trace(highway, seed=4)) < 120
    mountain = Trip(town.start, 30, RoadKind.MOUNTAIN)
    assert max(grade_pct(mountain, s) for s in range(1800)) > 5 and grade_pct(highway, 100) == 0.0
