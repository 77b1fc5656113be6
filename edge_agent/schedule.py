"""What to read and when: pure, driven by a monotonic time the caller passes in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from wire.pids import FAST_SET, SLOW_SET

RUNNING_RPM = 300.0
ENGINE_STOP_S = 10.0  # below RUNNING_RPM this long before a trip ends (stalls and sensor dips are not trips)


@dataclass(frozen=True, slots=True)
class Reads:
    """One cycle's work: the PIDs to query (empty = none due) and whether to check DTCs."""

    fast: tuple[str, ...] = ()
    slow: tuple[str, ...] = ()
    dtc: bool = False
    monitors: bool = False  # Mode 06 misfire monitors, once per trip

    @property
    def pids(self) -> tuple[str, ...]:
        return self.fast + self.slow


@dataclass
class Schedule:
    """The fast set every `sample_interval_s`, the slow set every `slow_interval_s`, DTCs every
    `dtc_interval_s` and at every engine start; only PIDs the car supports, plus ELM_VOLTAGE."""

    supported: frozenset[str]
    sample_interval_s: float = 1.0
    slow_interval_s: float = 60.0
    dtc_interval_s: float = 300.0
    monitor_delay_s: float = 300.0
    fast_set: tuple[str, ...] = FAST_SET
    slow_set: tuple[str, ...] = SLOW_SET
    _monitors_at: float | None = None  # when this trip's Mode 06 read is due; None when done or parked
    _next_fast: float = 0.0
    _next_slow: float = 0.0
    _next_dtc: float = 0.0
    _engine_running: bool | None = field(default=None)
    _below_since: float | None = None

    def configure(self, *, sample_interval_s: float, dtc_interval_s: float, pids: Iterable[str] = ()) -> None:
        """Apply a config message: new intervals at once; a non-empty PID list replaces the fast set."""
        self.sample_interval_s, self.dtc_interval_s = sample_interval_s, dtc_interval_s
        chosen = tuple(pids)
        if chosen:
            self.fast_set = chosen
        self._next_fast = self._next_dtc = 0.0

    def due(self, now: float) -> Reads:
        """Return what is due at `now` and plan the next cycle."""
        fast: tuple[str, ...] = ()
        slow: tuple[str, ...] = ()
        dtc = False
        if now >= self._next_fast:
            fast = (*self._supported(self.fast_set), "ELM_VOLTAGE")
            self._next_fast = now + self.sample_interval_s
        if now >= self._next_slow:
            slow = self._supported(self.slow_set)
            self._next_slow = now + self.slow_interval_s
        if now >= self._next_dtc:
            dtc = True
            self._next_dtc = now + self.dtc_interval_s
        monitors = self._monitors_at is not None and now >= self._monitors_at
        if monitors:
            self._monitors_at = None
        return Reads(fast=fast, slow=slow, dtc=dtc, monitors=monitors)

    def next_due(self) -> float:
        return min(self._next_fast, self._next_slow, self._next_dtc)

    def observe(self, readings: dict[str, float | None], now: float) -> bool:
        """Track the engine from the data (RPM); return True when a trip starts (the engine starts, or is
        found running when the agent starts): DTCs are then read at once and Mode 06 later in the trip."""
        rpm = readings.get("RPM")
        if rpm is None:
            return False
        if rpm < RUNNING_RPM:
            if self._engine_running is None:
                self._engine_running = False
            elif self._engine_running:
                self._below_since = now if self._below_since is None else self._below_since
                if now - self._below_since >= ENGINE_STOP_S:
                    self._engine_running = False
            return False
        self._below_since = None
        if self._engine_running:
            return False
        self._engine_running = True
        self._next_dtc = now
        self._monitors_at = now + self.monitor_delay_s
        return True

    def _supported(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(n for n in names if n in self.supported)


CRANK_DROP_V = 0.8  # a sudden drop this large between two polls means the starter is turning
CRANK_BELOW_V = 11.8  # ...landing below any resting voltage (an engine stopping drops from ~14 V to ~12.8 V)
CHARGING_V = 13.3  # above this the alternator is charging: the engine runs


@dataclass(frozen=True, slots=True)
class ParkedActions:
    record_resting: bool = False  # store this voltage as a resting-voltage sample
    crank: bool = False  # the starter is turning: capture the dip as fast as possible, then look for the car
    probe_car: bool = False  # try to reach the car's ECU (ignition may be on)


@dataclass
class ParkedWatch:
    """While the car is off the adapter still answers ATRV: keep a resting-voltage sample every
    `resting_interval_s`, and watch the voltage for an engine start: a sudden drop between two polls
    (the starter motor draws hundreds of amps; a battery settling after a drive declines slowly), or
    a charging voltage."""

    resting_interval_s: float = 1800.0
    probe_interval_s: float = 30.0
    _last_v: float | None = None
    _next_resting: float = 0.0
    _next_probe: float | None = None

    def observe(self, voltage: float | None, now: float) -> ParkedActions:
        if self._next_probe is None:
            self._next_probe = now + self.probe_interval_s
        last, self._last_v = self._last_v, voltage
        if voltage is None:
            return ParkedActions(probe_car=self._probe_due(now))
        if last is not None and voltage < last - CRANK_DROP_V and voltage < CRANK_BELOW_V:
            return ParkedActions(crank=True)
        if voltage >= CHARGING_V:
            return ParkedActions(probe_car=True)
        record = now >= self._next_resting
        if record:
            self._next_resting = now + self.resting_interval_s
        return ParkedActions(record_resting=record, probe_car=self._probe_due(now))

    def _probe_due(self, now: float) -> bool:
        if self._next_probe is not None and now >= self._next_probe:
            self._next_probe = now + self.probe_interval_s
            return True
        return False
