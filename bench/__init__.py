"""Benchmarks that print markdown tables. Run one as `python -m bench.<name>` from the
repository root, or as `python bench/<name>.py` from anywhere."""
