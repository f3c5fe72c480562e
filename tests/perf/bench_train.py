"""Training benchmark: our engine against a plain Trainer+peft script and LLaMA-Factory, same work, one run.

Each contender runs in its own process, one after another (never concurrently: two trainings on two
cores would distort both), on the default model, 4-bit NF4 + double quant, LoRA r=8/alpha=16 on the
seven linear projections, packed 512-token blocks of real Traditional Chinese prose, batch 2, 30 steps,
lr 2e-4, fp32 on CPU. The harness samples each process tree's peak RSS itself. A second part compares
SFT with packing on and off on short conversations (non-padding tokens/s).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEGS = ROOT / "tests" / "perf" / "legs"
sys.path.insert(0, str(LEGS))
from rss import PeakRSS  # noqa: E402

SHARED_TEXT = ROOT.parent / "shared" / "data" / "tc_lohelp.txt"
SAMPLE_TEXT = ROOT / "assets" / "corpus" / "tc_sample.txt"
CONVERSATIONS = ROOT / "assets" / "conversations" / "sample_sft.jsonl"


def run_leg(name: str, cmd: list[str], timeout: int = 1800) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    print(f"  running {name} ...", flush=True)
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    with PeakRSS(process.pid, interval=0.1) as sampler:
        out, err = process.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        return {"leg": name, "error": (err or out).strip().splitlines()[-1:] or ["no output"]}
    result = json.loads(lines[-1])
    if "skipped" not in result:
        result["tree_peak_rss_gib"] = sampler.peak_gib
    return result


def default_model(home: Path) -> Path:
    from core.models import default_model_dir
    from core.workspace import resolve_home

    return default_model_dir(resolve_home(home))


def main(steps: int = 30, only: str | None = None) -> list[dict]:
    home = Path(os.environ.get("BAILONG_PERF_HOME", ROOT / ".perf-home"))
    model = default_model(home)
    text = SHARED_TEXT if SHARED_TEXT.is_file() else SAMPLE_TEXT
    py = sys.executable
    common = ["--text", str(text), "--steps", str(steps), "--seq-len", "512", "--batch", "2"]
    out = tempfile.mkdtemp(prefix="bench-train-")
    legs = {
        "bailong": [py, str(LEGS / "bailong.py"), "--home", str(home), *common],
        "plain-trainer": [py, str(LEGS / "plain_trainer.py"), "--model", str(model), "--out", f"{out}/plain", *common],
        "llamafactory": [py, str(LEGS / "llamafactory.py"), "--model", str(model), "--out", f"{out}/lf", *common],
    }
    print(f"training benchmark: {steps} steps, text {text.name}, model {model}")
    results = {name: run_leg(name, cmd) for name, cmd in legs.items() if only in (None, name)}
    report(results)

    if only in (None, "packing"):
        short = Path(out) / "short_conversations.jsonl"
        write_short_conversations(CONVERSATIONS, short)
        sft = ["--stage", "sft", "--text", str(short), "--steps", "10", "--seq-len", "512", "--batch", "2"]
        # Alternating rounds, best of each: a short leg is easily skewed by whatever else the machine does.
        rounds = {"on": [], "off": []}
        for _ in range(2):
            for mode in ("on", "off"):
                flag = "--packing" if mode == "on" else "--no-packing"
                rounds[mode].append(run_leg(f"sft-packing-{mode}", [py, str(LEGS / "bailong.py"), "--home", str(home), *sft, flag]))
        best = lambda legs: max(legs, key=lambda r: r.get("tokens_per_s", -1))  # noqa: E731
        packed, padded = best(rounds["on"]), best(rounds["off"])
        if "tokens_per_s" in packed and "tokens_per_s" in padded:
            ratio = packed["tokens_per_s"] / padded["tokens_per_s"]
            for label, leg in (("on", packed), ("off", padded)):
                print(f"  packing {label}: {leg['tokens_per_s']:.1f} tokens/s, {leg['tokens']} tokens in {leg['steps']} steps, "
                      f"checkpointed layers {leg['checkpointed_layers']}, peak RSS {leg['tree_peak_rss_gib']:.2f} GiB")
            print(f"SFT non-padding tokens/s: packing on {packed['tokens_per_s']:.1f}, off {padded['tokens_per_s']:.1f}"
                  f" -> {ratio:.2f}x (target >= 1.5x) {'PASS' if ratio >= 1.5 else 'FAIL'}")
        results.update({"sft-packing-on": packed, "sft-packing-off": padded})
    return list(results.values())


def write_short_conversations(source: Path, target: Path) -> None:
    """A short-conversation SFT set: the opening exchange (system, user, assistant) of each bundled conversation."""
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        first_answer = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
        lines.append(json.dumps({"messages": messages[: first_answer + 1]}, ensure_ascii=False))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def report(results: dict[str, dict]) -> None:
    print(f"{'leg':<16}{'tokens/s':>10}{'peak RSS GiB':>14}{'final loss':>12}")
    for name, r in results.items():
        if "tokens_per_s" in r:
            extra = f"  (checkpointed layers {r['checkpointed_layers']}, allocator {r['allocator']})" if "allocator" in r else ""
            print(f"{name:<16}{r['tokens_per_s']:>10.1f}{r['tree_peak_rss_gib']:>14.2f}{r.get('final_loss') or float('nan'):>12.4f}{extra}")
        else:
            print(f"{name:<16}  {r.get('skipped') or r.get('error')}")
    ours = results.get("bailong", {})
    for other, speed_target, memory_target in (("llamafactory", 1.3, 0.7), ("plain-trainer", None, None)):
        theirs = results.get(other, {})
        if "tokens_per_s" not in ours or "tokens_per_s" not in theirs:
            continue
        speed = ours["tokens_per_s"] / theirs["tokens_per_s"]
        mem = ours["tree_peak_rss_gib"] / theirs["tree_peak_rss_gib"]
        verdict = ""
        if speed_target:
            verdict = f"  (targets >= {speed_target}x, <= {memory_target}x: {'PASS' if speed >= speed_target and mem <= memory_target else 'FAIL'})"
        print(f"bailong vs {other}: {speed:.2f}x tokens/s, {mem:.2f}x peak RSS{verdict}")


if __name__ == "__main__":
    main(only=sys.argv[1] if len(sys.argv) > 1 else None)
