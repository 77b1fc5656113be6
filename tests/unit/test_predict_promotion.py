"""Promotion's rule: a candidate no worse than the live model on the stress profile, beyond a tolerance."""

from __future__ import annotations

from predict.catalog import FailureMode
from predict.evaluation import ModeScore
from predict.promotion import Row, Tolerance, pooled, refusals


def score(*, alerts: int, true: int, faults: int, caught: int, months: float = 500.0) -> ModeScore:
    return ModeScore(alerts=alerts, true_alerts=true, faults=faults, caught=caught, leads_days=(20.0,) * caught,
                     false_alerts=alerts - true, vehicle_months=months)  # fmt: skip


def table(**overrides: ModeScore) -> dict[FailureMode | None, ModeScore]:
    base: dict[FailureMode | None, ModeScore] = {m: score(alerts=10, true=9, faults=10, caught=9) for m in FailureMode}
    base.update({FailureMode(k): v for k, v in overrides.items()})
    total = score(alerts=sum(s.alerts for s in base.values()), true=sum(s.true_alerts for s in base.values()),
                  faults=70, caught=sum(s.caught for s in base.values()))  # fmt: skip
    base[None] = total
    return base


def test_fleets_pool_into_one_table() -> None:
    both = pooled([table(), table(battery=score(alerts=4, true=1, faults=2, caught=1))])
    assert both[FailureMode.BATTERY] == Row(alerts=14, true_alerts=10, faults=12, caught=10, false_alerts=4,
                                            vehicle_months=1000.0)  # fmt: skip
    assert both[FailureMode.BATTERY].false_per_1000_vm == 4.0
    assert both[FailureMode.BATTERY].prior_precision == (10 + 1) / (14 + 2)


def test_a_candidate_as_good_is_promoted_and_a_worse_one_is_refused_with_its_reasons() -> None:
    live = pooled([table()])
    assert refusals(live, pooled([table()])) == []
    fewer = pooled([table(misfire=score(alerts=5, true=5, faults=10, caught=5))])
    noisier = pooled([table(charging_system=score(alerts=12, true=9, faults=10, caught=9))])  # +2 false = +4 /1000
    assert [r.split(":")[0] for r in refusals(live, fewer)] == ["misfire"]
    assert "recall 0.50 < live 0.90" in refusals(live, fewer)[0]
    assert [r.split(":")[0] for r in refusals(live, noisier)] == ["charging_system"]
    assert refusals(live, noisier, Tolerance(false_per_1000_vm=5.0)) == []  # within a looser tolerance
