"""An ELM327 emulator serving one car on a pty, whose trouble codes can be changed while it runs.

Wraps ELM327-emulator's `car` scenario (a real ELM327 command interpreter): prints the pty's path on
its first line of stdout, then reads JSON commands, one per line, on stdin:

    {"dtc": {"stored": ["P0301"], "pending": ["P0171"], "permanent": []}}
    {"scenario": "engineoff"}      ignition off: the adapter answers, the ECU does not ("car": back on)
    {"voltage": 12.6}              the battery voltage the adapter reports (ATRV)

Run: `python -m simulators.elm_car [scenario]`. Used by the edge agent's tests.

Simulated car: `python -m simulators.elm_car --sim-seed S --sim-index I --start 2026-01-05 --speedup 60`
serves car I of the fleet `FleetPlan(S, --sim-vehicles, start, --sim-days)` (`pitcall simulate history`
with the same options publishes its history). A player thread follows the car's 1 Hz records on a
simulated clock that starts just before the car's first trip of `--start` and runs `--speedup` times
faster than the wall clock: while it drives, the ECU answers RPM, SPEED, ENGINE_LOAD, COOLANT_TEMP, fuel
trims, MAF, INTAKE_TEMP, THROTTLE_POS, O2 sensors and CONTROL_MODULE_VOLTAGE from the current record;
parked, the ignition is off and ATRV reports the resting voltage; the trouble codes follow the
simulated ECU. The stdin commands above still apply (the player overwrites them on its next change).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import io
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import orjson
from elm import Elm, obd_message
from elm.interpreter import set_scenario

from simulators.climate import Weather
from simulators.scenario import FleetPlan, build_fleet
from simulators.vehicle import Readings, SimulatedRecord, VehicleSim

GROUPS = {"P": 0, "C": 1, "B": 2, "U": 3}


def j2012(code: str) -> str:
    """Encode a DTC like 'P0301' as the emulator's two-byte hex form ('0301')."""
    group, first, rest = GROUPS[code[0]], int(code[1]), code[2:]
    return f"{(group << 2) | first:X}{rest}"


def dtc_answer(codes: list[str]) -> list[str]:
    """Return the emulator's DTC list for `codes`, led by the count byte that CAN ECUs send.

    ELM327-emulator 4.0 answers `43 03 01` where a CAN ECU (ISO 15765-4) answers `43 01 03 01`; python-OBD
    skips the count byte, so without it the first code would be lost. The count rides in as a 1-byte
    pseudo-code (the emulator's MIL count in PID 01 01 is then one too high; pitcall reads only the MIL).
    """
    return [f"{len(codes):02X}", *(j2012(c) for c in codes)] if codes else []


def set_voltage(volts: float) -> None:
    """Make ATRV answer `volts` in every scenario."""
    answer = f"<writeln>{volts:.1f}V</writeln>"
    obd_message.ObdMessage["AT"]["AT_R_VOLT"] = {"Request": "^ATRV$", "Descr": "AT read volt", "Response": answer}
    obd_message.ObdMessage["car"]["ELM_VOLTAGE"] = {
        "Request": "^ATRV[0123456]?$",
        "Descr": "Voltage",
        "Header": "7E0",
        "Response": answer,
    }


def apply(emulator: Elm, command: dict[str, object]) -> None:
    """Apply one control command to the running emulator."""
    volts = command.get("voltage")
    if isinstance(volts, (int, float)):
        set_voltage(float(volts))
        with contextlib.redirect_stdout(io.StringIO()):
            emulator.set_sorted_obd_msg()
    scenario = command.get("scenario")
    if isinstance(scenario, str):
        with contextlib.redirect_stdout(io.StringIO()):
            set_scenario(emulator, scenario)
    dtc = command.get("dtc")
    if isinstance(dtc, dict):
        obd_message.DTC_STORED = dtc_answer(list(dtc.get("stored", [])))
        obd_message.DTC_PENDING = dtc_answer(list(dtc.get("pending", [])))
        obd_message.DTC_PERMANENT = dtc_answer(list(dtc.get("permanent", [])))


# The simulated car's ECU: python-OBD name -> (Mode 01 PID, encoder of the value into data bytes).
def _byte(value: float) -> list[int]:
    return [max(0, min(255, round(value)))]


def _word(value: float) -> list[int]:
    word = max(0, min(0xFFFF, round(value)))
    return [word >> 8, word & 0xFF]


PID_ENCODERS: dict[str, tuple[int, Callable[[float], list[int]]]] = {
    "ENGINE_LOAD": (0x04, lambda v: _byte(v * 255 / 100)),
    "COOLANT_TEMP": (0x05, lambda v: _byte(v + 40)),
    "SHORT_FUEL_TRIM_1": (0x06, lambda v: _byte(v * 128 / 100 + 128)),
    "LONG_FUEL_TRIM_1": (0x07, lambda v: _byte(v * 128 / 100 + 128)),
    "RPM": (0x0C, lambda v: _word(v * 4)),
    "SPEED": (0x0D, _byte),
    "INTAKE_TEMP": (0x0F, lambda v: _byte(v + 40)),
    "MAF": (0x10, lambda v: _word(v * 100)),
    "THROTTLE_POS": (0x11, lambda v: _byte(v * 255 / 100)),
    "O2_B1S1": (0x14, lambda v: [*_byte(v * 200), 0xFF]),
    "O2_B1S2": (0x15, lambda v: [*_byte(v * 200), 0xFF]),
    "CONTROL_MODULE_VOLTAGE": (0x42, lambda v: _word(v * 1000)),
}
RUNNING_WITHIN = timedelta(seconds=5)  # a driving record this recent means the engine runs


def pid_answer(name: str, value: float | None) -> str:
    """Return the emulator's Mode 01 answer for one reading (`NO DATA` for a missing one)."""
    if value is None:
        return "<writeln>NO DATA</writeln>"
    pid, encode = PID_ENCODERS[name]
    data = [0x41, pid, *encode(value)]
    return f"<header>7E8</header><size>{len(data):02X}</size><data>{' '.join(f'{b:02X}' for b in data)}</data>"


@dataclass(frozen=True, slots=True)
class CarState:
    """What the car's ECU and adapter report at one moment."""

    running: bool
    readings: Readings
    volts: float
    stored: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()


@dataclass
class CarPlayer:
    """A simulated car's records played against a clock `speedup` times faster than the wall clock."""

    sim: VehicleSim
    start: date
    speedup: float
    records: list[SimulatedRecord] = field(default_factory=list)
    generated_until: date | None = None
    origin: datetime | None = None

    @classmethod
    def for_car(cls, plan: FleetPlan, index: int, *, speedup: float) -> CarPlayer:
        car = build_fleet(plan)[index]
        sim = VehicleSim(car.spec, Weather(car.region, car.seed), list(car.faults), car.seed)
        return cls(sim, plan.start, speedup)

    def first_drive(self) -> datetime:
        """Return the simulated time the clock starts at: 2 s before the car's first trip from `start`."""
        day = self.start
        while True:
            self._generate(day)
            driving = [r.ts for r in self.records if "RPM" in r.readings]
            if driving:
                return driving[0] - timedelta(seconds=2)
            day += timedelta(days=1)

    def sim_time(self, elapsed_s: float) -> datetime:
        if self.origin is None:
            self.origin = self.first_drive()
        return self.origin + timedelta(seconds=elapsed_s * self.speedup)

    def state(self, when: datetime) -> CarState:
        """Return the car's state at simulated time `when` (records generated as far as needed)."""
        self._generate(when.date())
        position = bisect.bisect_right(self.records, when, key=lambda r: r.ts)
        past = self.records[max(0, position - 100) : position]  # the latest voltage is among these
        volts = next((r.readings["ELM_VOLTAGE"] for r in reversed(past) if "ELM_VOLTAGE" in r.readings), 12.6)
        driving = next((r for r in reversed(past[-10:]) if "RPM" in r.readings), None)
        running = driving is not None and when - driving.ts <= RUNNING_WITHIN
        reports = [r for r in self.sim.dtc_reports if r.ts <= when]
        codes = (reports[-1].stored, reports[-1].pending) if reports else ((), ())
        readings = driving.readings if driving is not None and running else {}
        return CarState(running, readings, float(volts or 12.6), *codes)

    def _generate(self, through: date) -> None:
        day = self.start if self.generated_until is None else self.generated_until + timedelta(days=1)
        while day <= through:
            self.records += self.sim.day(day, sample_every_s=1, step_s=1)
            self.generated_until = day
            day += timedelta(days=1)


def prepare_car_answers() -> None:
    """Make the emulator's car answer from fixed responses only (before it serves: the answers are then
    replaced while it runs), with PID 01 14 (front O2 sensor) added and announced."""
    car = obd_message.ObdMessage["car"]
    for name in PID_ENCODERS:
        car.get(name, {}).pop("ResponseFooter", None)
    car["O2_B1S1"] = {"Request": "^0114" + obd_message.ELM_FOOTER, "Descr": "O2 B1S1", "Header": "7E0"}
    obd_message.update_scenario_with_dynamic_pids(car, service="01")  # announces 01 14 in 01 00


def show(emulator: Elm, state: CarState, previous: CarState | None) -> None:
    """Make the emulator answer `state`."""
    car = obd_message.ObdMessage["car"]
    for name in PID_ENCODERS:
        car[name]["Response"] = pid_answer(name, state.readings.get(name))
    if previous is None or (previous.stored, previous.pending) != (state.stored, state.pending):
        apply(emulator, {"dtc": {"stored": list(state.stored), "pending": list(state.pending)}})
    if previous is None or previous.running != state.running or previous.volts != state.volts:
        volts = state.readings.get("ELM_VOLTAGE") or state.volts
        apply(emulator, {"voltage": volts, "scenario": "car" if state.running else "engineoff"})


def play(emulator: Elm, player: CarPlayer, *, tick_s: float = 0.2) -> None:
    """Follow the simulated car forever (run in a thread)."""
    started, previous = time.monotonic(), None
    while True:
        state = player.state(player.sim_time(time.monotonic() - started))
        show(emulator, state, previous)
        previous = state
        time.sleep(tick_s)


def serve_car(player: CarPlayer) -> None:
    """Serve the simulated car on a pty (printed first) until killed; stdin commands keep working."""
    player.sim_time(0.0)  # the first trip is simulated before the adapter answers
    prepare_car_answers()
    emulator, pty = _start_emulator("engineoff")
    threading.Thread(target=play, args=(emulator, player), daemon=True).start()
    print(pty, flush=True)
    _obey_stdin(emulator)
    threading.Event().wait()


def _start_emulator(scenario: str) -> tuple[Elm, str]:
    with contextlib.redirect_stdout(io.StringIO()):  # the emulator chatters on stdout
        emulator = Elm(batch_mode=True)
        pty = emulator.get_pty()
        set_scenario(emulator, scenario)
    threading.Thread(target=emulator.run, daemon=True).start()
    return emulator, str(pty)


def _obey_stdin(emulator: Elm) -> None:
    for line in sys.stdin:
        if line.strip():
            apply(emulator, orjson.loads(line))
            print("ok", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.sim_seed is not None:
        plan = FleetPlan(seed=args.sim_seed, vehicles=args.sim_vehicles, start=args.start, days=args.sim_days)
        serve_car(CarPlayer.for_car(plan, args.sim_index, speedup=args.speedup))
        return
    emulator, pty = _start_emulator(args.scenario)
    print(pty, flush=True)
    _obey_stdin(emulator)
    emulator.terminate()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.elm_car", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default="car", help="ELM327-emulator scenario (without --sim-seed)")
    parser.add_argument("--sim-seed", type=int, help="serve a simulated car of this fleet seed")
    parser.add_argument("--sim-index", type=int, default=0)
    parser.add_argument("--sim-vehicles", type=int, default=20, help="the fleet's size (as in simulate history)")
    parser.add_argument("--sim-days", type=int, default=30, help="the fleet's days (as in simulate history)")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 9, 1))
    parser.add_argument("--speedup", type=float, default=60.0, help="simulated seconds per wall-clock second")
    return parser


if __name__ == "__main__":
    main()
