"""Benchmarks: ratios measured side by side in one process, printed as one table."""
