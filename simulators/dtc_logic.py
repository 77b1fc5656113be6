"""How an engine ECU turns monitor results into trouble codes (the OBD-II driving-cycle rules).

Pure state machine, one per code: a monitor that fails in a trip sets the code *pending*; failing again
in the next trip where the monitor runs confirms it (*stored*, MIL on); three consecutive passing trips
turn the MIL off (the code stays stored); forty warm-up cycles without a failure erase it. A trip in
which the monitor did not run (conditions not met: too short, too cold) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PASSES_TO_MIL_OFF = 3
WARMUPS_TO_ERASE = 40


class Verdict(StrEnum):
    FAIL = "fail"
    PASS = "pass"
    NOT_RUN = "not_run"


@dataclass
class CodeState:
    code: str
    pending: bool = False
    stored: bool = False
    mil: bool = False
    _passes: int = 0
    _warmups_clean: int = 0

    def trip(self, verdict: Verdict, *, warmed_up: bool) -> None:
        """Apply one driving cycle's monitor result."""
        if verdict is Verdict.FAIL:
            if self.pending or self.stored:
                self.stored = self.mil = True
            self.pending = True
            self._passes = self._warmups_clean = 0
            return
        mil_was_off = not self.mil
        if verdict is Verdict.PASS:
            self.pending = False
            self._passes += 1
            if self._passes >= PASSES_TO_MIL_OFF:
                self.mil = False
        if warmed_up and self.stored and mil_was_off:  # counting starts after the MIL went off
            self._warmups_clean += 1
            if self._warmups_clean >= WARMUPS_TO_ERASE:
                self.stored = False


@dataclass
class Ecu:
    """The codes one car's ECU holds."""

    codes: dict[str, CodeState]

    @classmethod
    def empty(cls) -> Ecu:
        return cls({})

    def trip(self, results: dict[str, Verdict], *, warmed_up: bool) -> None:
        for code, verdict in results.items():
            self.codes.setdefault(code, CodeState(code)).trip(verdict, warmed_up=warmed_up)
        for code, state in self.codes.items():
            if code not in results:
                state.trip(Verdict.NOT_RUN, warmed_up=warmed_up)

    def snapshot(self) -> tuple[bool, list[str], list[str]]:
        """Return (MIL, stored codes, pending codes) as Modes 01/03/07 report them."""
        stored = sorted(c for c, s in self.codes.items() if s.stored)
        pending = sorted(c for c, s in self.codes.items() if s.pending)
        return any(s.mil for s in self.codes.values()), stored, pending
