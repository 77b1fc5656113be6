"""Simulated weather is plausible for each region and season, and deterministic."""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import mean

from simulators.climate import CHINA, REGIONS, Weather, daily_extremes


def _monthly_mean(region: str, month: int, seed: int = 1) -> float:
    weather = Weather(REGIONS[region], seed)
    start = datetime(2026, month, 1, tzinfo=CHINA)
    return mean(weather.air_c(start + timedelta(hours=h)) for h in range(0, 28 * 24, 3))


def test_harbin_winters_and_guangzhou_summers() -> None:
    assert _monthly_mean("harbin", 1) < -12
    assert _monthly_mean("guangzhou", 7) > 26
    assert _monthly_mean("guangzhou", 1) > 9
    assert 18 < _monthly_mean("harbin", 7) < 28


def test_mornings_are_colder_than_afternoons() -> None:
    weather = Weather(REGIONS["beijing"], 3)
    day = datetime(2026, 4, 10, tzinfo=CHINA)
    assert weather.air_c(day.replace(hour=5)) < weather.air_c(day.replace(hour=15)) - 5
    low, high = daily_extremes(weather, day)
    assert 4 < high - low < 16


def test_deterministic_and_smooth() -> None:
    a, b = Weather(REGIONS["shanghai"], 9), Weather(REGIONS["shanghai"], 9)
    t = datetime(2026, 11, 26, 8, 30, tzinfo=CHINA)
    assert a.air_c(t) == b.air_c(t)
    assert abs(a.air_c(t) - a.air_c(t + timedelta(minutes=1))) < 0.1
    assert Weather(REGIONS["shanghai"], 10).air_c(t) != a.air_c(t)


def test_altitude_lowers_pressure() -> None:
    assert REGIONS["shanghai"].barometric_kpa > 100
    assert 60 < REGIONS["lhasa"].barometric_kpa < 70
