"""Benchmarks (`make bench`): never part of the test suite, never asserting on timings."""
