"""Benchmark leg: QLoRA causal-LM pre-training with a plain transformers `Trainer` + peft.

Why: this is the baseline "what a typical user would write" that our engine is compared against.
It does the shared benchmark work: NF4 + double-quant 4-bit base (bitsandbytes, fp32 compute, CPU),
LoRA r=8/alpha=16/dropout=0.05 on the 7 Llama projections, raw text (one document per line)
tokenized, joined with EOS and packed into `--seq-len` blocks, cosine lr 2e-4 with 3 % warmup,
seed 42, fp32, gradient checkpointing on by default. It runs in the project venv and prints one
JSON line: tokens/s over `train_runtime`, final loss and the peak RSS of this process (tests/perf/legs/rss.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from itertools import chain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rss import PeakRSS  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def pack(tokenizer, text_file: str, seq_len: int) -> list[list[int]]:
    """Tokenize one document per line, append EOS to each, concatenate, cut into full blocks."""
    with open(text_file, encoding="utf-8") as f:
        docs = [line.strip() for line in f if line.strip()]
    ids = tokenizer(docs, add_special_tokens=False)["input_ids"]
    flat = list(chain.from_iterable(doc + [tokenizer.eos_token_id] for doc in ids))
    return [flat[i : i + seq_len] for i in range(0, len(flat) - seq_len + 1, seq_len)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--grad-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()

    rss = PeakRSS().start()
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig,
                              DataCollatorForLanguageModeling, Trainer, TrainingArguments, set_seed)

    set_seed(42)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    blocks = pack(tokenizer, args.text, args.seq_len)
    dataset = Dataset.from_dict({"input_ids": blocks})

    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                             bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(args.model, quantization_config=bnb,
                                                 dtype=torch.float32, device_map="cpu")
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.grad_checkpointing)
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=TARGETS,
                      bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)

    training_args = TrainingArguments(
        output_dir=args.out, per_device_train_batch_size=args.batch, gradient_accumulation_steps=1,
        max_steps=args.steps, learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=0.03,
        activation_checkpointing=args.grad_checkpointing, bf16=False, fp16=False, use_cpu=True,
        seed=42, logging_steps=1, save_strategy="no", report_to="none", dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset,
                      data_collator=DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False))
    metrics = trainer.train().metrics
    peak = rss.stop()

    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    steps = trainer.state.global_step
    tokens = steps * args.batch * args.seq_len
    runtime = metrics["train_runtime"]
    print(json.dumps({"leg": "plain-trainer", "tokens_per_s": round(tokens / runtime, 2),
                      "train_runtime_s": round(runtime, 3), "steps": steps, "tokens": tokens,
                      "final_loss": losses[-1] if losses else None, "peak_rss_gib": peak}), flush=True)


if __name__ == "__main__":
    main()
