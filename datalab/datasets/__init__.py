"""Uploaded datasets: checking a file against its declared format, and reading it with DuckDB."""
