"""An ELM327 emulator serving one car on a pty, whose trouble codes can be changed while it runs.

Wraps ELM327-emulator's `car` scenario (a real ELM327 command interpreter): prints the pty's path on
its first line of stdout, then reads JSON commands, one per line, on stdin:

    {"dtc": {"stored": ["P0301"], "pending": ["P0171"], "permanent": []}}
    {"scenario": "engineoff"}      ignition off: the adapter answers, the ECU does not ("car": back on)
    {"voltage": 12.6}              the battery voltage the adapter reports (ATRV)

Run: `python -m simulators.elm_car`. Used by the edge agent's tests; the fleet simulator will drive
it from a simulated vehicle.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading

import orjson
from elm import Elm, obd_message
from elm.interpreter import set_scenario

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


def main() -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # the emulator chatters on stdout
        emulator = Elm(batch_mode=True)
        pty = emulator.get_pty()
        set_scenario(emulator, sys.argv[1] if len(sys.argv) > 1 else "car")
    threading.Thread(target=emulator.run, daemon=True).start()
    print(pty, flush=True)
    for line in sys.stdin:
        if line.strip():
            apply(emulator, orjson.loads(line))
            print("ok", flush=True)
    emulator.terminate()


if __name__ == "__main__":
    main()
