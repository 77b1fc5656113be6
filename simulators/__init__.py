"""Simulated vehicles and dongles that feed pitcall in demos, tests and benchmarks."""
