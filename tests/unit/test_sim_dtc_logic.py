"""OBD-II driving-cycle rules: pending, confirmed with the MIL, MIL off, erased."""

from __future__ import annotations

from simulators.dtc_logic import PASSES_TO_MIL_OFF, WARMUPS_TO_ERASE, Ecu, Verdict


def test_two_failing_trips_confirm_a_code_and_light_the_mil() -> None:
    ecu = Ecu.empty()
    ecu.trip({"P0128": Verdict.FAIL}, warmed_up=False)
    assert ecu.snapshot() == (False, [], ["P0128"])
    ecu.trip({"P0128": Verdict.NOT_RUN}, warmed_up=False)  # too short a trip: the monitor did not run
    assert ecu.snapshot() == (False, [], ["P0128"])
    ecu.trip({"P0128": Verdict.FAIL}, warmed_up=False)
    assert ecu.snapshot() == (True, ["P0128"], ["P0128"])


def test_a_single_failure_that_passes_next_time_goes_away() -> None:
    ecu = Ecu.empty()
    ecu.trip({"P0171": Verdict.FAIL}, warmed_up=True)
    ecu.trip({"P0171": Verdict.PASS}, warmed_up=True)
    assert ecu.snapshot() == (False, [], [])


def test_mil_off_after_three_passes_and_erased_after_forty_warmups() -> None:
    ecu = Ecu.empty()
    for _ in range(2):
        ecu.trip({"P0420": Verdict.FAIL}, warmed_up=True)
    for _ in range(PASSES_TO_MIL_OFF - 1):
        ecu.trip({"P0420": Verdict.PASS}, warmed_up=True)
    assert ecu.snapshot()[0] is True
    ecu.trip({"P0420": Verdict.PASS}, warmed_up=True)
    assert ecu.snapshot() == (False, ["P0420"], [])  # MIL off, the code still stored
    for _ in range(WARMUPS_TO_ERASE - 1):
        ecu.trip({}, warmed_up=True)
    assert ecu.snapshot()[1] == ["P0420"]
    ecu.trip({}, warmed_up=True)
    assert ecu.snapshot() == (False, [], [])


def test_a_failure_resets_the_healing_counts() -> None:
    ecu = Ecu.empty()
    for verdict in (Verdict.FAIL, Verdict.FAIL, Verdict.PASS, Verdict.PASS, Verdict.FAIL):
        ecu.trip({"P0301": verdict}, warmed_up=True)
    for _ in range(PASSES_TO_MIL_OFF - 1):
        ecu.trip({"P0301": Verdict.PASS}, warmed_up=True)
    assert ecu.snapshot()[0] is True
