"""Benchmarks of the pipeline: `scripts/bench.sh` runs them and writes docs/BENCHMARKS.md.

Kept out of the test suite on purpose: timings vary with the machine, so they are measured and written down here,
never asserted.
"""
