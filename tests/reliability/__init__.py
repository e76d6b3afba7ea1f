"""Reliability and security tests: hostile input, faults, concurrency, secrets, load."""
