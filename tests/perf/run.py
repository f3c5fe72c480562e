"""``make perf``: run every benchmark in tests/perf and print ratios against baselines measured in the same run."""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

BENCHES = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("benches", nargs="*", choices=BENCHES + [[]], help="which benchmarks (default: all)")
    args = parser.parse_args()
    for name in args.benches or BENCHES:
        print(f"== {name}")
        importlib.import_module(f"tests.perf.{name}").main()


if __name__ == "__main__":
    main()
