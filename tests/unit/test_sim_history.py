"""A simulated car's history as wire messages: sequence numbers, trouble codes, determinism."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from datetime import date, timedelta

from predict.catalog import FailureMode
from simulators.faults import InjectedFault, Progression
from simulators.history import Cadence, CarHistory
from simulators.scenario import FleetPlan, build_fleet
from wire import dump_message
from wire.v1 import DtcMessage

PLAN = FleetPlan(seed=11, vehicles=3, start=date(2026, 3, 2), days=12)


def history_bytes(plan: FleetPlan, index: int) -> list[bytes]:
    history = CarHistory(build_fleet(plan)[index], Cadence())
    return [dump_message(m) for d in range(plan.days) for m in history.day(plan.start + timedelta(days=d))]


def test_seq_rises_strictly_across_days() -> None:
    history = CarHistory(build_fleet(PLAN)[0], Cadence())
    seqs = [m.seq for d in range(6) for m in history.day(PLAN.start + timedelta(days=d))]
    assert len(seqs) > 30
    assert all(a < b for a, b in itertools.pairwise(seqs))


def test_same_plan_same_bytes() -> None:
    assert history_bytes(PLAN, 1) == history_bytes(PLAN, 1)
    assert history_bytes(PLAN, 1) != history_bytes(dataclasses.replace(PLAN, seed=12), 1)


def test_a_failing_ignition_coil_sets_misfire_codes() -> None:
    car = build_fleet(PLAN)[2]
    onset = PLAN.start_at + timedelta(days=1)
    coil = InjectedFault(FailureMode.MISFIRE, onset, onset + timedelta(days=4), Progression.LINEAR, cylinder=2)
    history = CarHistory(dataclasses.replace(car, faults=(coil,)), Cadence())
    dtcs = [
        m for d in range(PLAN.days) for m in history.day(PLAN.start + timedelta(days=d)) if isinstance(m, DtcMessage)
    ]
    assert any("P0302" in m.pending for m in dtcs)
    confirmed = [m for m in dtcs if "P0302" in m.stored]
    assert confirmed and confirmed[0].mil
    assert all(m.ts >= onset for m in dtcs)


def test_the_classic_profile_is_the_first_simulator_message_for_message() -> None:
    """Profiles draw their traits from an rng of their own: the classic fleet's messages are those of the
    simulator before profiles existed (hash taken from it), so earlier published figures stay reproducible."""
    plan = FleetPlan(seed=7, vehicles=4, start=date(2026, 1, 5), days=4)
    digest = hashlib.sha256()
    for car in build_fleet(plan):
        history = CarHistory(car, Cadence())
        for n in range(plan.days):
            for message in history.day(plan.start + timedelta(days=n)):
                digest.update(dump_message(message))
    assert digest.hexdigest() == "e4d5308c1a5c213860452b52d4b8803b83724cb0df9ae3dc4e07fa0e2dabd647"


def test_a_varied_profile_gives_each_car_its_own_dongle_and_traits() -> None:
    cars = build_fleet(FleetPlan(seed=7, vehicles=60, start=date(2026, 1, 5), days=30, profile="stress"))
    assert len({c.spec.traits.sample_every_s for c in cars}) >= 4
    assert len({c.spec.traits.mode06 for c in cars}) == 5
    assert any(c.spec.traits.smart_charging for c in cars) and not all(c.spec.traits.smart_charging for c in cars)
    assert len({c.region.name for c in cars}) >= 8
    assert sum(bool(c.faults) for c in cars) == 12  # the stress profile's fault share, 0.2
