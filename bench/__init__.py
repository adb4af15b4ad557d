"""Benchmarks: what authentication costs (`make bench`) and how long the test loops take."""
