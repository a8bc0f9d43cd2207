"""Benchmarks: kaizenflow and the plain-pm4py way side by side, each in its own process."""
