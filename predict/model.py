"""A trained detector model: per-mode parameters, versioned, saved as JSON with its training range and metrics.

Plain JSON, no pickles: a model file can be read, diffed and reviewed. `predict/models/` holds the
model that ships with pitcall; `pitcall predict train` writes new ones beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from predict.catalog import FailureMode
from predict.detect import ModeParams

MODELS_DIR = Path(__file__).parent / "models"
CANDIDATES_DIR = MODELS_DIR / "candidates"  # what `pitcall predict train` writes; `promote` moves one to MODELS_DIR


@dataclass(frozen=True)
class Model:
    version: str
    params: dict[FailureMode, ModeParams]
    trained_on: dict[str, object] = field(default_factory=dict)
    metrics: dict[str, object] = field(default_factory=dict)

    def mode(self, mode: FailureMode) -> ModeParams:
        return self.params.get(mode, ModeParams())

    def save(self, path: Path) -> Path:
        body = {
            "version": self.version,
            "params": {m.value: asdict(p) for m, p in self.params.items()},
            "trained_on": self.trained_on,
            "metrics": self.metrics,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Model:
        body = json.loads(path.read_text())
        return cls(
            version=body["version"],
            params={FailureMode(m): ModeParams(**p) for m, p in body["params"].items()},
            trained_on=body.get("trained_on", {}),
            metrics=body.get("metrics", {}),
        )


def untrained() -> Model:
    return Model(version="untrained", params={m: ModeParams() for m in FailureMode})


def shipped() -> Model:
    """The newest promoted model in predict/models/ (by file name; candidates are not), or untrained defaults."""
    files = sorted(MODELS_DIR.glob("*.json"))
    return Model.load(files[-1]) if files else untrained()
