"""Benchmarks: Dealcraft measured against reference floors and peer systems (not tests)."""
