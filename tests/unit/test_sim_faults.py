"""Injected faults: ground-truth times and progression shapes."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from predict.catalog import FailureMode
from simulators.faults import InjectedFault, Progression, random_fault

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("progression", list(Progression))
def test_severity_runs_from_zero_at_onset_to_one_at_failure(progression: Progression) -> None:
    fault = InjectedFault(FailureMode.BATTERY, T0, T0 + timedelta(days=40), progression)
    values = [fault.severity(T0 + timedelta(days=d)) for d in range(-5, 46)]
    assert values[0] == 0.0 and values[5] == 0.0 and values[-1] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(values))  # damage never heals by itself


def test_shapes_differ_where_it_matters() -> None:
    midway = T0 + timedelta(days=20)
    severity = {
        p: InjectedFault(FailureMode.MISFIRE, T0, T0 + timedelta(days=40), p, 2).severity(midway) for p in Progression
    }
    assert severity[Progression.LATE] < 0.1 < severity[Progression.ACCELERATING] < severity[Progression.LINEAR]


def test_random_faults_fail_inside_the_period_and_are_seeded() -> None:
    for seed in range(50):
        fault = random_fault(random.Random(seed), FailureMode.MISFIRE, start=T0, days=120)
        assert T0 <= fault.onset < fault.failure <= T0 + timedelta(days=120)
        assert timedelta(days=5) <= fault.failure - fault.onset <= timedelta(days=120)
        assert fault.cylinder is not None and 1 <= fault.cylinder <= 4
    assert random_fault(random.Random(3), FailureMode.CATALYST, start=T0, days=90) == random_fault(
        random.Random(3), FailureMode.CATALYST, start=T0, days=90
    )
