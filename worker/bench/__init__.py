"""Benchmarks: pipeline stages, poll rounds, the LSH index (``newsdedup bench``)."""
