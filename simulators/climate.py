"""Weather by region and season, from Harbin winters to Guangzhou summers. Pure and seeded.

Air temperature = seasonal cycle (coldest mid-January) + daily cycle (coldest ~05:00, warmest
~15:00) + a slowly wandering weather anomaly (cold snaps and heat waves). Pressure follows altitude.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
COLDEST_DAY = 15  # day of the year with the lowest mean temperature


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    january_mean_c: float
    july_mean_c: float
    daily_swing_c: float  # warmest minus coldest hour on an average day
    altitude_m: float

    @property
    def barometric_kpa(self) -> float:
        """Mean air pressure at the region's altitude (what BAROMETRIC_PRESSURE reads)."""
        return 101.3 * math.exp(-self.altitude_m / 8400.0)


REGIONS = {
    r.name: r
    for r in (
        Region("harbin", -17.6, 23.6, 11.0, 150),
        Region("beijing", -3.1, 27.1, 10.0, 50),
        Region("shanghai", 4.8, 28.9, 7.0, 5),
        Region("chengdu", 5.8, 25.8, 7.0, 500),
        Region("guangzhou", 13.9, 29.2, 7.0, 20),
        Region("kunming", 9.0, 20.0, 11.0, 1890),
        Region("lhasa", -0.6, 16.0, 15.0, 3650),
    )
}
# The cities of the varied profiles (`simulators.variety`): from Harbin to Guangzhou, Kunming at 1,890 m.
CITIES = {
    r.name: r
    for r in (
        *(REGIONS[n] for n in ("harbin", "beijing", "shanghai", "chengdu", "guangzhou", "kunming")),
        Region("shenyang", -11.4, 24.9, 10.0, 50),
        Region("urumqi", -12.6, 23.7, 11.0, 800),
        Region("xian", -0.3, 27.1, 10.0, 400),
        Region("wuhan", 3.9, 29.7, 7.0, 25),
        Region("chongqing", 7.9, 28.5, 6.0, 250),
        Region("xiamen", 12.8, 28.6, 6.0, 10),
    )
}


@dataclass
class Weather:
    """One region's weather, deterministic for a seed; `air_c` may be asked in any order."""

    region: Region
    seed: int

    def air_c(self, when: datetime) -> float:
        local = when.astimezone(CHINA)
        day = local.timetuple().tm_yday + local.hour / 24.0
        season = (self.region.january_mean_c + self.region.july_mean_c) / 2 - (
            (self.region.july_mean_c - self.region.january_mean_c) / 2
        ) * math.cos(2 * math.pi * (day - COLDEST_DAY) / 365.25)
        hour = local.hour + local.minute / 60.0
        daily = -self.region.daily_swing_c / 2 * math.cos(2 * math.pi * (hour - 4.0) / 24.0 + 0.35)
        return season + daily + self._anomaly(local.date().toordinal() + hour / 24.0)

    def _anomaly(self, day: float) -> float:
        """A smooth weather anomaly (about ±4 °C, spells of several days), interpolated between days."""
        base = math.floor(day)
        fraction = day - base
        return (1 - fraction) * self._daily_anomaly(base) + fraction * self._daily_anomaly(base + 1)

    def _daily_anomaly(self, day: int) -> float:
        # sum of a few slow waves with seeded phases: smooth, bounded, order-independent
        rng = random.Random(self.seed * 7919 + len(self.region.name))
        total = 0.0
        for period, amplitude in ((3.0, 1.5), (7.0, 2.0), (17.0, 1.5)):
            total += amplitude * math.sin(2 * math.pi * day / period + rng.uniform(0, 2 * math.pi))
        return total


def daily_extremes(weather: Weather, day: datetime) -> tuple[float, float]:
    """Return the (min, max) air temperature over a local day, sampled hourly."""
    start = day.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    temps = [weather.air_c(start + timedelta(hours=h)) for h in range(24)]
    return min(temps), max(temps)
