"""The failure-mode catalog and the DTC knowledge base agree with each other and with SAE J2012."""

from __future__ import annotations

import re

from predict.catalog import CATALOG, FailureMode, confirms
from predict.dtc_kb import KNOWLEDGE_BASE, Severity, describe


def test_catalog_names_are_fixed() -> None:
    assert [m.value for m in FailureMode] == [
        "battery",
        "charging_system",
        "thermostat",
        "overheating",
        "fuel_lean",
        "misfire",
        "catalyst",
    ]
    assert set(CATALOG) == set(FailureMode)


def test_every_confirming_code_is_in_the_knowledge_base_under_its_mode() -> None:
    for mode, info in CATALOG.items():
        for pattern in info.confirming_dtcs:
            codes = [pattern.replace("n", str(d)) for d in range(1, 9)] if pattern.endswith("n") else [pattern]
            for code in codes:
                entry = describe(code)
                assert entry is not None, code
                assert entry.mode is mode, code
                assert confirms(mode, code)


def test_confirmation_is_specific() -> None:
    assert confirms(FailureMode.MISFIRE, "P0305") and confirms(FailureMode.MISFIRE, "P0300")
    assert not confirms(FailureMode.MISFIRE, "P0420")
    assert confirms(FailureMode.CATALYST, "P0430") and not confirms(FailureMode.CATALYST, "P0421")
    assert confirms(FailureMode.FUEL_LEAN, "P0174")


def test_entries_are_well_formed_and_bilingual() -> None:
    for code, entry in KNOWLEDGE_BASE.items():
        assert re.fullmatch(r"P0[0-9A-F]{3}", code)
        assert entry.en and entry.zh and re.search(r"[\u4e00-\u9fff]", entry.zh)
        assert entry.op_code == (CATALOG[entry.mode].operation.op_code if entry.mode else None)
    assert describe("p0301").zh == "检测到第1缸失火"  # type: ignore[union-attr]
    assert describe("P0217").severity is Severity.CRITICAL  # type: ignore[union-attr]
    assert describe("P9999") is None
