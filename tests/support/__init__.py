"""Test equipment shared by tests and benchmarks."""
