"""The failure-mode catalog: the fixed names that prediction, the API and the evaluation share.

Each mode names the signals its detector reads, the DTCs that confirm it, and the service operation a
4S store books for it (op codes are the catalog keys the service workflow maps to labour and parts).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureMode(StrEnum):
    BATTERY = "battery"
    CHARGING_SYSTEM = "charging_system"
    THERMOSTAT = "thermostat"
    OVERHEATING = "overheating"
    FUEL_LEAN = "fuel_lean"
    MISFIRE = "misfire"
    CATALYST = "catalyst"


@dataclass(frozen=True, slots=True)
class ServiceOperation:
    op_code: str
    name_en: str
    name_zh: str
    labour_hours: float
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModeInfo:
    mode: FailureMode
    name_en: str
    name_zh: str
    signals: tuple[str, ...]
    confirming_dtcs: tuple[str, ...]  # a code prefix ending in "n" matches any digit (P030n)
    operation: ServiceOperation


CATALOG: dict[FailureMode, ModeInfo] = {
    info.mode: info
    for info in (
        ModeInfo(FailureMode.BATTERY, "12 V battery weakening", "蓄电池老化",
                 ("ELM_VOLTAGE", "AMBIANT_AIR_TEMP"), (),
                 ServiceOperation("BAT-TEST-REPLACE", "Battery test and replacement", "蓄电池检测与更换", 0.5,
                                  ("12V battery",))),
        ModeInfo(FailureMode.CHARGING_SYSTEM, "Alternator / charging system", "发电机 / 充电系统故障",
                 ("CONTROL_MODULE_VOLTAGE", "ELM_VOLTAGE", "RPM"), ("P0562", "P0563", "P0620"),
                 ServiceOperation("ALT-DIAG-REPLACE", "Charging system diagnosis, alternator replacement",
                                  "充电系统诊断与发电机更换", 1.5, ("alternator", "drive belt"))),
        ModeInfo(FailureMode.THERMOSTAT, "Thermostat stuck open", "节温器常开",
                 ("COOLANT_TEMP", "AMBIANT_AIR_TEMP", "SPEED", "RUN_TIME"), ("P0128", "P0125"),
                 ServiceOperation("THERMO-REPLACE", "Thermostat replacement", "节温器更换", 1.2,
                                  ("thermostat", "coolant"))),
        ModeInfo(FailureMode.OVERHEATING, "Coolant loss / cooling fan", "冷却液流失 / 冷却风扇故障",
                 ("COOLANT_TEMP", "ENGINE_LOAD", "SPEED"), ("P0217", "P0480", "P0481"),
                 ServiceOperation("COOL-DIAG", "Cooling system pressure test and repair", "冷却系统检漏与维修",
                                  1.5, ("coolant", "radiator cap"))),
        ModeInfo(FailureMode.FUEL_LEAN, "Lean mixture (vacuum leak / weak pump)", "混合气过稀（真空泄漏 / 油泵无力）",
                 ("LONG_FUEL_TRIM_1", "SHORT_FUEL_TRIM_1", "ENGINE_LOAD", "MAF"), ("P0171", "P0174"),
                 ServiceOperation("FUEL-LEAN-DIAG", "Smoke test for vacuum leaks, fuel pressure test",
                                  "真空泄漏烟雾检测与燃油压力测试", 1.0, ("intake gasket",))),
        ModeInfo(FailureMode.MISFIRE, "Ignition coil / spark plug misfire", "点火线圈 / 火花塞失火",
                 ("MONITOR_MISFIRE_CYLINDER_n.MISFIRE_COUNT", "RPM", "ENGINE_LOAD"), ("P0300", "P030n"),
                 ServiceOperation("IGN-COIL-PLUG", "Ignition coil and spark plug replacement", "点火线圈与火花塞更换",
                                  1.0, ("ignition coil", "spark plugs"))),
        ModeInfo(FailureMode.CATALYST, "Catalytic converter efficiency", "三元催化器效率低",
                 ("O2_B1S1", "O2_B1S2", "CATALYST_TEMP_B1S1"), ("P0420", "P0430"),
                 ServiceOperation("CAT-REPLACE", "Catalytic converter diagnosis and replacement",
                                  "三元催化器诊断与更换", 2.0, ("catalytic converter", "gaskets"))),
    )
}  # fmt: skip


def confirms(mode: FailureMode, dtc: str) -> bool:
    """Tell whether a trouble code confirms a failure mode (P030n matches P0301..P0309)."""
    return any(
        dtc == pattern or (pattern.endswith("n") and dtc[:-1] == pattern[:-1] and dtc[-1] in "123456789")
        for pattern in CATALOG[mode].confirming_dtcs
    )
