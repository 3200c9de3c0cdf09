"""Benchmarks of machinable against MLflow, Sacred and a raw-Python floor: `python -m benchmarks`."""
