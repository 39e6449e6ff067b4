"""Benchmarks for Small Model Studio. Never part of the pass/fail test run: `python -m bench`."""
