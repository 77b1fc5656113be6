"""The agent's schedule: what is read when, config changes, engine starts — with time moved, not slept."""

from __future__ import annotations

from edge_agent.schedule import Schedule
from wire.pids import FAST_SET

SUPPORTED = frozenset({*FAST_SET, "FUEL_LEVEL", "BAROMETRIC_PRESSURE"}) - {"O2_B1S2"}


def test_fast_set_every_interval_slow_set_every_minute_only_supported_pids() -> None:
    schedule = Schedule(supported=SUPPORTED, sample_interval_s=1.0, dtc_interval_s=300)
    first = schedule.due(0.0)
    assert "RPM" in first.fast and "ELM_VOLTAGE" in first.fast and "O2_B1S2" not in first.fast
    assert set(first.slow) == {"FUEL_LEVEL", "BAROMETRIC_PRESSURE"}
    assert first.dtc
    assert schedule.due(0.5).pids == ()
    second = schedule.due(1.0)
    assert second.fast and not second.slow and not second.dtc
    assert schedule.due(60.0).slow
    assert schedule.due(300.0).dtc
    assert schedule.next_due() == 301.0


def test_config_changes_interval_and_fast_set_at_once() -> None:
    schedule = Schedule(supported=SUPPORTED)
    schedule.due(0.0)
    schedule.configure(sample_interval_s=5.0, dtc_interval_s=60.0, pids=["RPM", "SPEED"])
    reads = schedule.due(0.1)
    assert reads.fast == ("RPM", "SPEED", "ELM_VOLTAGE") and reads.dtc
    assert schedule.due(4.0).fast == ()
    assert schedule.due(5.1).fast


def test_engine_start_is_found_in_the_data_and_brings_dtcs_forward() -> None:
    schedule = Schedule(supported=SUPPORTED, dtc_interval_s=300)
    schedule.due(0.0)
    assert not schedule.observe({"RPM": 0.0}, 10.0)
    assert not schedule.observe({"RPM": None}, 11.0)  # no answer tells nothing
    assert schedule.observe({"RPM": 850.0}, 12.0)
    assert not schedule.observe({"RPM": 900.0}, 13.0)
    assert schedule.due(13.0).dtc


def test_misfire_monitors_once_per_trip_after_the_delay() -> None:
    schedule = Schedule(supported=SUPPORTED, monitor_delay_s=300)
    schedule.due(0.0)
    assert schedule.observe({"RPM": 800.0}, 1.0)  # found running at start: a trip
    assert not schedule.due(200.0).monitors
    assert schedule.due(301.0).monitors
    assert not schedule.due(900.0).monitors  # once per trip
    schedule.observe({"RPM": 0.0}, 1000.0)
    schedule.observe({"RPM": 0.0}, 1011.0)  # parked
    assert schedule.observe({"RPM": 900.0}, 2000.0)  # next trip
    assert schedule.due(2300.0).monitors


def test_a_short_dip_below_running_rpm_is_not_a_new_trip() -> None:
    schedule = Schedule(supported=SUPPORTED)
    assert schedule.observe({"RPM": 800.0}, 0.0)
    assert not schedule.observe({"RPM": 250.0}, 5.0)
    assert not schedule.observe({"RPM": 820.0}, 8.0)  # 3 s below: same trip
    assert not schedule.observe({"RPM": 0.0}, 20.0)
    assert not schedule.observe({"RPM": 0.0}, 31.0)  # 11 s stopped: the trip ended
    assert schedule.observe({"RPM": 780.0}, 40.0)


def test_parked_watch_records_resting_voltage_and_sees_a_crank() -> None:
    from edge_agent.schedule import ParkedWatch

    watch = ParkedWatch(resting_interval_s=1800, probe_interval_s=30)
    assert watch.observe(12.6, 0.0).record_resting
    assert not watch.observe(12.6, 1.0).record_resting
    assert watch.observe(12.5, 31.0).probe_car and not watch.observe(12.5, 32.0).probe_car
    assert watch.observe(12.55, 1800.0).record_resting
    assert watch.observe(10.2, 1801.0).crank  # the starter pulls the battery down
    assert watch.observe(14.1, 1805.0).probe_car  # charging: the engine runs
    for step, volts in enumerate((13.1, 12.9, 12.7, 12.5, 12.3, 12.1)):  # settling after a drive: slow
        assert not watch.observe(volts, 1810.0 + step).crank
