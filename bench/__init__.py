"""Benchmarks: scripts, not tests. Each module runs as ``python -m bench.<name>``; ``bench.run_all`` runs them all."""
