"""Corpus benchmark: the whole import pipeline on a generated ~200 MB Simplified-Chinese corpus.

The baseline, measured in the same run on the same file, is the least any import must do: one loop that
reads each line and converts it with OpenCC ``s2twp``. The pipeline is the real ``bailong corpus import
--dedup`` (decode, normalise, convert, clean, filter, exact and MinHash near-duplicate removal, parquet
writing, statistics, database row). Both run as child processes whose whole process tree is sampled for
peak RSS (tests/perf/legs/rss.py); the target is a peak under 1.5 GB for the pipeline, i.e. memory that
does not grow with the corpus. Size is ``BAILONG_BENCH_CORPUS_MB`` (default 200). Real prose comes from
/work/shared/data/tc_lohelp.txt, converted to Simplified; documents are random sentence mixes, with 2 %
exact and 2 % near duplicates planted. Run it under ``flock /tmp/bailong-bench.lock``.
"""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.perf.legs.rss import PeakRSS

ROOT = Path(__file__).resolve().parents[2]
PROSE = Path("/work/shared/data/tc_lohelp.txt")
TARGET_MB = float(os.environ.get("BAILONG_BENCH_CORPUS_MB", "200"))
RSS_LIMIT_GIB = 1.5
BASELINE = """
import sys, opencc
cc = opencc.OpenCC("s2twp")
with open(sys.argv[1], encoding="utf-8") as src, open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in src:
        out.write(cc.convert(line))
"""


def generate(path: Path, megabytes: float, seed: int = 0) -> tuple[int, int]:
    """A Simplified corpus of random sentence mixes; returns (documents, planted duplicates)."""
    import opencc

    prose = PROSE.read_text(encoding="utf-8") if PROSE.is_file() else "今天天氣很好，我們一起去臺北的夜市。" * 400
    simplified = opencc.OpenCC("t2s").convert(prose)
    sentences = [s for s in re.split(r"(?<=[。！？])", simplified.replace("\n", "")) if len(s) > 4]
    rng = random.Random(seed)
    limit = int(megabytes * 1e6)
    written, docs, planted, recent = 0, 0, 0, []
    with path.open("w", encoding="utf-8") as out:
        while written < limit:
            roll = rng.random()
            if recent and roll < 0.02:
                line = rng.choice(recent)  # exact duplicate
                planted += 1
            elif recent and roll < 0.04:
                base = rng.choice(recent)
                cut = rng.randrange(len(base))
                line = base[:cut] + "，" + base[cut:]  # near duplicate: one inserted comma
                planted += 1
            else:
                line = "".join(rng.choice(sentences) for _ in range(rng.randint(3, 12)))
                recent = (recent + [line])[-200:]
            data = line + "\n"
            out.write(data)
            written += len(data.encode("utf-8"))
            docs += 1
    return docs, planted


def timed_child(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    with PeakRSS(process.pid, interval=0.1) as rss:
        stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    result = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed: {stderr.strip().splitlines()[-1] if stderr.strip() else ''}")
    return seconds, rss.peak_gib, result


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bailong-bench-corpus-") as tmp:
        tmp_path = Path(tmp)
        source = tmp_path / "corpus.txt"
        t = time.perf_counter()
        docs, planted = generate(source, TARGET_MB)
        size_mb = source.stat().st_size / 1e6
        print(f"generated {size_mb:.0f} MB, {docs:,} documents ({planted:,} planted duplicates) in {time.perf_counter() - t:.0f} s")

        base_s, base_gib, _ = timed_child([sys.executable, "-c", BASELINE, str(source), str(tmp_path / "baseline.txt")])
        pipe_s, pipe_gib, result = timed_child([sys.executable, "-m", "core.cli", "corpus", "import", str(source),
                                                "--name", "bench", "--dedup", "--json", "--home", str(tmp_path / "home")])
        manifest = json.loads(result.stdout)
        counts = manifest["counts"]
        dropped_dups = counts.get("dropped_exact_duplicate", 0) + counts.get("dropped_near_duplicate", 0)
        figures = {
            "corpus_mb": round(size_mb, 1), "documents": docs, "planted_duplicates": planted,
            "baseline_s": round(base_s, 1), "baseline_mb_s": round(size_mb / base_s, 2), "baseline_peak_gib": base_gib,
            "pipeline_s": round(pipe_s, 1), "pipeline_mb_s": round(size_mb / pipe_s, 2), "pipeline_peak_gib": pipe_gib,
            "speed_ratio": round(base_s / pipe_s, 3), "rows_kept": manifest["rows"], "duplicates_removed": dropped_dups,
            "sc_leak_rate": manifest["stats"]["sc_leak_rate"],
        }
        print(json.dumps(figures))
        print(f"baseline  (OpenCC s2twp loop): {figures['baseline_mb_s']:.2f} MB/s, peak RSS {base_gib:.2f} GiB")
        print(f"pipeline  (corpus import --dedup): {figures['pipeline_mb_s']:.2f} MB/s, peak RSS {pipe_gib:.2f} GiB, "
              f"{figures['speed_ratio']:.2f}x the baseline's speed")
        print(f"duplicates removed {dropped_dups:,} of {planted:,} planted; SC-leak rate {figures['sc_leak_rate']:.4%}")
        verdict = "met" if pipe_gib < RSS_LIMIT_GIB else "MISSED"
        print(f"target peak RSS < {RSS_LIMIT_GIB} GiB: {verdict}")


if __name__ == "__main__":
    main()
