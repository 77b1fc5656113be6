"""Knowledge base of the generic (SAE J2012) P0 codes pitcall's failure modes produce, and their
neighbours: English and Chinese descriptions, system, severity and the likely service operation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from predict.catalog import CATALOG, FailureMode


class Severity(StrEnum):
    INFO = "info"  # worth a look at the next visit
    WARNING = "warning"  # book a visit
    CRITICAL = "critical"  # call the customer now: damage or a breakdown is near


@dataclass(frozen=True, slots=True)
class DtcInfo:
    code: str
    en: str
    zh: str
    system: str
    severity: Severity
    mode: FailureMode | None

    @property
    def op_code(self) -> str | None:
        return CATALOG[self.mode].operation.op_code if self.mode else None


B, CS, TH, OH, FL, MF, CAT = (
    FailureMode.BATTERY,
    FailureMode.CHARGING_SYSTEM,
    FailureMode.THERMOSTAT,
    FailureMode.OVERHEATING,
    FailureMode.FUEL_LEAN,
    FailureMode.MISFIRE,
    FailureMode.CATALYST,
)
INF, W, C = Severity.INFO, Severity.WARNING, Severity.CRITICAL
_TABLE: tuple[tuple[str, str, str, str, Severity, FailureMode | None], ...] = (
    ("P0560", "System voltage malfunction", "系统电压故障", "charging", W, CS),
    ("P0561", "System voltage unstable", "系统电压不稳定", "charging", W, CS),
    ("P0562", "System voltage low", "系统电压过低", "charging", C, CS),
    ("P0563", "System voltage high", "系统电压过高", "charging", W, CS),
    ("P0620", "Generator control circuit malfunction", "发电机控制电路故障", "charging", W, CS),
    ("P0621", "Generator lamp control circuit malfunction", "发电机指示灯控制电路故障", "charging", INF, CS),
    ("P0622", "Generator field control circuit malfunction", "发电机励磁控制电路故障", "charging", W, CS),
    ("P0115", "Engine coolant temperature sensor circuit malfunction", "发动机冷却液温度传感器电路故障",
     "cooling", W, None),
    ("P0116", "Engine coolant temperature sensor circuit range/performance",
     "发动机冷却液温度传感器电路范围/性能问题", "cooling", W, None),
    ("P0117", "Engine coolant temperature sensor circuit low input", "发动机冷却液温度传感器电路输入过低",
     "cooling", W, None),
    ("P0118", "Engine coolant temperature sensor circuit high input", "发动机冷却液温度传感器电路输入过高",
     "cooling", W, None),
    ("P0125", "Insufficient coolant temperature for closed loop fuel control", "冷却液温度不足以进入闭环燃油控制",
     "cooling", INF, TH),
    ("P0126", "Insufficient coolant temperature for stable operation", "冷却液温度不足以稳定运行",
     "cooling", INF, TH),
    ("P0128", "Coolant temperature below thermostat regulating temperature", "冷却液温度低于节温器调节温度",
     "cooling", W, TH),
    ("P0217", "Engine overtemperature condition", "发动机过热", "cooling", C, OH),
    ("P0480", "Cooling fan 1 control circuit malfunction", "冷却风扇1控制电路故障", "cooling", C, OH),
    ("P0481", "Cooling fan 2 control circuit malfunction", "冷却风扇2控制电路故障", "cooling", W, OH),
    ("P0087", "Fuel rail/system pressure too low", "燃油导轨/系统压力过低", "fuel", W, FL),
    ("P0101", "Mass air flow circuit range/performance", "空气流量计电路范围/性能问题", "fuel", W, None),
    ("P0102", "Mass air flow circuit low input", "空气流量计电路输入过低", "fuel", W, None),
    ("P0103", "Mass air flow circuit high input", "空气流量计电路输入过高", "fuel", W, None),
    ("P0171", "System too lean (bank 1)", "系统过稀（第1排）", "fuel", W, FL),
    ("P0172", "System too rich (bank 1)", "系统过浓（第1排）", "fuel", W, None),
    ("P0174", "System too lean (bank 2)", "系统过稀（第2排）", "fuel", W, FL),
    ("P0175", "System too rich (bank 2)", "系统过浓（第2排）", "fuel", W, None),
    ("P0300", "Random/multiple cylinder misfire detected", "检测到随机/多缸失火", "ignition", C, MF),
    *((f"P030{n}", f"Cylinder {n} misfire detected", f"检测到第{n}缸失火", "ignition", C, MF) for n in range(1, 9)),
    *((f"P035{n}", f"Ignition coil {'ABCDEFGH'[n - 1]} primary/secondary circuit malfunction",
       f"点火线圈{'ABCDEFGH'[n - 1]}初级/次级电路故障", "ignition", W, MF) for n in range(1, 9)),
    ("P0420", "Catalyst system efficiency below threshold (bank 1)", "催化器效率低于阈值（第1排）",
     "emissions", W, CAT),
    ("P0421", "Warm up catalyst efficiency below threshold (bank 1)", "预热催化器效率低于阈值（第1排）",
     "emissions", W, CAT),
    ("P0430", "Catalyst system efficiency below threshold (bank 2)", "催化器效率低于阈值（第2排）",
     "emissions", W, CAT),
    ("P0130", "O2 sensor circuit malfunction (bank 1 sensor 1)", "氧传感器电路故障（第1排传感器1）",
     "emissions", W, None),
    ("P0133", "O2 sensor circuit slow response (bank 1 sensor 1)", "氧传感器响应过慢（第1排传感器1）",
     "emissions", INF, None),
    ("P0136", "O2 sensor circuit malfunction (bank 1 sensor 2)", "氧传感器电路故障（第1排传感器2）",
     "emissions", W, None),
    ("P0137", "O2 sensor circuit low voltage (bank 1 sensor 2)", "氧传感器电路电压过低（第1排传感器2）",
     "emissions", W, None),
    ("P0138", "O2 sensor circuit high voltage (bank 1 sensor 2)", "氧传感器电路电压过高（第1排传感器2）",
     "emissions", W, None),
    ("P0141", "O2 sensor heater circuit malfunction (bank 1 sensor 2)", "氧传感器加热器电路故障（第1排传感器2）",
     "emissions", INF, None),
)  # fmt: skip

KNOWLEDGE_BASE: dict[str, DtcInfo] = {row[0]: DtcInfo(*row) for row in _TABLE}


def describe(code: str) -> DtcInfo | None:
    """Return what pitcall knows about a code, or None for codes outside the knowledge base."""
    return KNOWLEDGE_BASE.get(code.upper())
