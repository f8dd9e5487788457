"""Benchmarks of lsl against its peers (see README.md); run with `make bench` or `python -m benchmarks.run`."""
