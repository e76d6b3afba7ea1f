"""Reproducible performance runs (``python -m benchmarks run``); not part of the tests."""
