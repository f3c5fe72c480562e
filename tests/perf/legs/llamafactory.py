"""Benchmark leg: the shared QLoRA pre-training work run through LLaMA-Factory (`llamafactory-cli train`).

Why: LLaMA-Factory is a popular fine-tuning front end, so it is a second reference point beside the
plain-Trainer leg. It lives in its own venv (tests/perf/legs/setup_llamafactory.sh builds it under
.perf-venvs/llamafactory) because it pins other transformers/peft versions; this script runs under any
Python with psutil, writes a JSONL dataset + dataset_info.json + YAML for the same work (NF4 double-quant,
LoRA r=8/alpha=16/dropout=0.05 on the 7 projections, stage pt with packing into `--seq-len` blocks, batch 2,
cosine lr 2e-4, 3 % warmup, fp32, seed 42, LF's default gradient checkpointing), launches the CLI as a child
process, and prints one JSON line with tokens/s over LF's `train_runtime` and the child tree's peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rss import PeakRSS  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CLI = os.path.join(ROOT, ".perf-venvs", "llamafactory", "bin", "llamafactory-cli")
TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"


def write_inputs(args, out: str) -> str:
    data_dir = os.path.join(out, "data")
    os.makedirs(data_dir, exist_ok=True)
    with open(args.text, encoding="utf-8") as src, open(os.path.join(data_dir, "corpus.jsonl"), "w", encoding="utf-8") as dst:
        for line in src:
            if line.strip():
                dst.write(json.dumps({"text": line.strip()}, ensure_ascii=False) + "\n")
    with open(os.path.join(data_dir, "dataset_info.json"), "w") as f:
        json.dump({"corpus": {"file_name": "corpus.jsonl", "columns": {"prompt": "text"}}}, f)
    cfg = {
        "model_name_or_path": os.path.abspath(args.model), "stage": "pt", "do_train": True,
        "finetuning_type": "lora", "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.05, "lora_target": TARGETS,
        "quantization_bit": 4, "quantization_method": "bnb", "quantization_type": "nf4", "double_quantization": True,
        "dataset": "corpus", "dataset_dir": data_dir, "template": "empty", "cutoff_len": args.seq_len,
        "packing": True, "overwrite_cache": True,
        "output_dir": os.path.join(out, "run"), "logging_steps": 1, "save_strategy": "no", "plot_loss": False,
        "per_device_train_batch_size": args.batch, "gradient_accumulation_steps": 1, "max_steps": args.steps,
        "learning_rate": 2.0e-4, "lr_scheduler_type": "cosine", "warmup_ratio": 0.03,
        "bf16": False, "fp16": False, "seed": 42, "report_to": "none", "dataloader_num_workers": 0,
    }
    path = os.path.join(out, "train.yaml")
    with open(path, "w") as f:  # JSON is valid YAML; no PyYAML needed in this interpreter
        json.dump(cfg, f, indent=1)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=2)
    args = ap.parse_args()

    if not os.access(CLI, os.X_OK):
        print(json.dumps({"leg": "llamafactory", "skipped": "venv missing: run tests/perf/legs/setup_llamafactory.sh"}))
        return
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    yaml_path = write_inputs(args, out)
    env = dict(os.environ, DISABLE_VERSION_CHECK="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", GRADIO_ANALYTICS_ENABLED="False")
    log_path = os.path.join(out, "llamafactory.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([CLI, "train", yaml_path], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out)
        rss = PeakRSS(proc.pid).start()
        rc = proc.wait()
        peak = rss.stop()
    if rc != 0:
        with open(log_path, errors="replace") as f:
            sys.stderr.write(f.read()[-4000:])
        print(json.dumps({"leg": "llamafactory", "error": f"llamafactory-cli exited {rc}", "log": log_path}))
        sys.exit(1)

    run_dir = os.path.join(out, "run")
    with open(os.path.join(run_dir, "all_results.json")) as f:
        results = json.load(f)
    with open(os.path.join(run_dir, "trainer_state.json")) as f:
        state = json.load(f)
    losses = [h["loss"] for h in state.get("log_history", []) if "loss" in h]
    steps = state["global_step"]
    tokens = steps * args.batch * args.seq_len
    runtime = results["train_runtime"]
    print(json.dumps({"leg": "llamafactory", "tokens_per_s": round(tokens / runtime, 2),
                      "train_runtime_s": round(runtime, 3), "steps": steps, "tokens": tokens,
                      "final_loss": losses[-1] if losses else None, "peak_rss_gib": peak}), flush=True)


if __name__ == "__main__":
    main()
