"""Load benchmarks of the combined app: `uv run python benchmarks/run.py` (see docs/benchmarks.md)."""
