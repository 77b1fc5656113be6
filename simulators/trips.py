"""When cars are driven and how: driver profiles, a day's trips, and a second-by-second speed trace.

Pure and seeded: the same (profile, seed, day) always gives the same trips. Profiles carry the
confounders that fool naive thresholds: short trips that never warm up, long parking that drains the
battery, mountain roads that load the engine.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from simulators.climate import CHINA


class Profile(StrEnum):
    COMMUTER = "commuter"  # two trips on workdays, longer ones at weekends
    SHORT_TRIPS = "short_trips"  # many 3-8 minute errands: the engine rarely reaches 90 °C
    RIDE_HAILING = "ride_hailing"  # long days, lots of idling in traffic
    WEEKENDER = "weekender"  # parked all week, a long drive on Saturday
    MOUNTAIN = "mountain"  # commutes on steep roads (Chongqing, Guizhou)


class RoadKind(StrEnum):
    URBAN = "urban"
    HIGHWAY = "highway"
    MOUNTAIN = "mountain"


@dataclass(frozen=True, slots=True, order=True)
class Trip:
    start: datetime
    minutes: float
    road: RoadKind


def _at(day: date, hour: float, rng: random.Random, spread_min: float = 20.0) -> datetime:
    minutes = hour * 60 + rng.gauss(0, spread_min)
    return datetime.combine(day, time(0), tzinfo=CHINA) + timedelta(minutes=max(0.0, min(minutes, 23.5 * 60)))


def trips_on(day: date, profile: Profile, seed: int) -> list[Trip]:
    """Return the day's trips for a driver, in time order."""
    rng = random.Random(f"{seed}:{profile}:{day.isoformat()}")
    weekend = day.weekday() >= 5
    if rng.random() < 0.06:  # ill, travelling, car lent out: no driving
        return []
    if profile is Profile.COMMUTER:
        if weekend:
            return sorted(
                Trip(
                    _at(day, h, rng, 60),
                    rng.uniform(20, 90),
                    RoadKind.HIGHWAY if rng.random() < 0.4 else RoadKind.URBAN,
                )
                for h in (10, 16)
            )
        return [
            Trip(_at(day, 7.8, rng), rng.uniform(20, 45), RoadKind.URBAN),
            Trip(_at(day, 18.2, rng), rng.uniform(25, 55), RoadKind.URBAN),
        ]
    if profile is Profile.SHORT_TRIPS:
        count = rng.randint(3, 7)
        return sorted(
            Trip(_at(day, rng.uniform(8, 20), rng, 5), rng.uniform(3, 8), RoadKind.URBAN) for _ in range(count)
        )
    if profile is Profile.RIDE_HAILING:
        return [Trip(_at(day, 7 + 2.5 * k, rng, 15), rng.uniform(60, 120), RoadKind.URBAN) for k in range(5)]
    if profile is Profile.WEEKENDER:
        return [Trip(_at(day, 9, rng, 45), rng.uniform(120, 240), RoadKind.HIGHWAY)] if day.weekday() == 5 else []
    return [
        Trip(_at(day, 7.6, rng), rng.uniform(25, 40), RoadKind.MOUNTAIN),
        Trip(_at(day, 18, rng), rng.uniform(25, 40), RoadKind.MOUNTAIN),
    ]


def speed_trace(trip: Trip, seed: int) -> list[float]:
    """Speed in km/h for each second of a trip: stop-and-go in town, cruising on highways, slower
    climbing on mountain roads; it always starts and ends at standstill."""
    rng = random.Random(f"{seed}:{trip.start.isoformat()}")
    cruise = {RoadKind.URBAN: 38.0, RoadKind.HIGHWAY: 105.0, RoadKind.MOUNTAIN: 45.0}[trip.road]
    seconds = max(60, int(trip.minutes * 60))
    speeds: list[float] = []
    target, speed = 0.0, 0.0
    for second in range(seconds):
        if second % 45 == 0:
            stop = trip.road is RoadKind.URBAN and rng.random() < 0.35
            target = 0.0 if stop else max(0.0, rng.gauss(cruise, cruise * 0.2))
        if seconds - second < 30:
            target = 0.0
        speed += max(-9.0, min(4.0, target - speed)) * (0.5 + 0.5 * rng.random())
        speeds.append(max(0.0, speed))
    speeds[0] = speeds[-1] = 0.0
    return speeds


def grade_pct(trip: Trip, second: int) -> float:
    """Road gradient: mountain roads climb and descend in long stretches."""
    if trip.road is not RoadKind.MOUNTAIN:
        return 0.0
    return 7.0 * math.sin(second / 240.0)
