"""Simulation helpers for tests and benchmarks."""
