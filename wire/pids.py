"""The PID sets pitcall reads by default (python-OBD command names), shared by the edge agent, the
simulators and the tests. A device's config message may replace the fast set."""

FAST_SET = (
    "RPM", "SPEED", "ENGINE_LOAD", "COOLANT_TEMP", "SHORT_FUEL_TRIM_1", "LONG_FUEL_TRIM_1", "MAF",
    "INTAKE_TEMP", "THROTTLE_POS", "CONTROL_MODULE_VOLTAGE", "O2_B1S1", "O2_B1S2",
)  # fmt: skip
SLOW_SET = (
    "FUEL_LEVEL", "AMBIANT_AIR_TEMP", "CATALYST_TEMP_B1S1", "DISTANCE_SINCE_DTC_CLEAR", "BAROMETRIC_PRESSURE",
    "DISTANCE_W_MIL", "WARMUPS_SINCE_DTC_CLEAR", "RUN_TIME",
)  # fmt: skip
MISFIRE_MONITORS = tuple(f"MONITOR_MISFIRE_CYLINDER_{n}" for n in range(1, 9))
