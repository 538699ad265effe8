"""Run every benchmark, each in a fresh process: ``python -m bench.run_all [name ...]``.

A benchmark is a module ``bench.<name>`` runnable as ``python -m bench.<name>`` that writes its own
results under ``bench/results/``. Add new ones to ``BENCHMARKS``.
"""

from __future__ import annotations

import subprocess
import sys
import time

# http_scoring needs Debian's `wrk` (apt-get install wrk); soak runs apart (`make soak`).
BENCHMARKS = ["engine", "orchestration", "http_scoring", "hostile_pages"]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    failed = []
    for name in names:
        started = time.perf_counter()
        print(f"== bench.{name}", flush=True)
        code = subprocess.run([sys.executable, "-m", f"bench.{name}"]).returncode
        print(f"== bench.{name}: {'ok' if code == 0 else f'failed ({code})'} in {time.perf_counter() - started:.0f} s",
              flush=True)
        if code != 0:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
