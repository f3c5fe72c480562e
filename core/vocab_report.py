"""What a vocabulary extension buys, measured on held-out text: tokens per character and loss per character.

Tokens per character compares the base and extended tokenizers on the same documents. The initial loss
is given in nats per *character* (summed token losses over the character count) because a per-token
loss is not comparable across tokenizers that cut the text differently. It is measured for the base
model and for the extended model under each initialisation strategy, optionally after the warm-up that
trains only the new rows. The report is a JSON-ready dict saved beside the tokenizer
(``vocab_report.json``); ``efficiency_svg`` draws tokens against characters per document for both.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Callable

from core.packing import IGNORE, Sequences, batches, build_sequences
from core.svg_chart import Axes, empty_svg

REPORT_FILE = "vocab_report.json"
EVAL_WINDOW = 1024


def token_counts(tokenizer: Any, docs: list[str]) -> list[int]:
    return [len(ids) for ids in tokenizer(docs, add_special_tokens=False)["input_ids"]] if docs else []


def efficiency(base: Any, extended: Any, docs: list[str]) -> dict[str, Any]:
    """Tokens per character before and after, with the per-document counts the plot draws."""
    chars = [len(d) for d in docs]
    before, after = token_counts(base, docs), token_counts(extended, docs)
    total = max(1, sum(chars))
    return {
        "characters": sum(chars), "documents": len(docs),
        "tokens_per_char_base": round(sum(before) / total, 4), "tokens_per_char": round(sum(after) / total, 4),
        "reduction": round(sum(before) / max(1, sum(after)), 3),
        "per_document": {"characters": chars, "base_tokens": before, "tokens": after},
    }


def eval_sequences(tokenizer: Any, docs: list[str], window: int = EVAL_WINDOW) -> Sequences:
    """Documents joined by EOS, cut into windows that overlap by one token so every token is predicted once."""
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    labels: list[int] = []
    for ids in tokenizer(docs, add_special_tokens=False)["input_ids"]:
        stream += [eos, *ids]
        labels += [IGNORE, *ids]  # the separator is context, not text: it carries no characters
    out = Sequences()
    for start in range(0, max(1, len(stream) - 1), window):
        out.input_ids.append(stream[start : start + window + 1])
        out.labels.append(labels[start : start + window + 1])
    return out


def nats_per_char(model: Any, tokenizer: Any, docs: list[str], device: str, window: int = EVAL_WINDOW, batch_size: int = 4) -> float:
    """Summed next-token loss over the documents' tokens, divided by their characters."""
    import torch

    from core.train import _body_and_head, _forward_loss

    body, head = _body_and_head(model)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for batch in batches(eval_sequences(tokenizer, docs, window), batch_size, 0, 0, tokenizer.pad_token_id):
            loss, count = _forward_loss(body, head, batch, device)
            total += float(loss) * count
    return total / max(1, sum(len(d) for d in docs))


def new_token_table(meta: dict[str, Any], limit: int | None = None) -> list[dict[str, Any]]:
    """The learned tokens with the base pieces they replace, in learning order (most frequent first), then
    the bytes the base vocabulary lacked."""
    rows = sorted(meta.get("new_tokens", []), key=lambda r: r.get("kind") == "byte")
    return [{"id": r["id"], "text": r["text"], "pieces": r["piece_texts"], "n_pieces": len(r["pieces"])}
            for r in rows[:limit]]


def efficiency_svg(report: dict[str, Any], width: int = 560, height: int = 260) -> str:
    """Tokens against characters per held-out document, base (grey) and extended (blue), as inline SVG."""
    per = report.get("per_document") or {}
    chars = per.get("characters") or []
    if not chars:
        return empty_svg("vocab-plot", width, height, "no held-out text")
    axes = Axes(width, height, 0, max(chars) or 1, 0, max(max(per["base_tokens"]), max(per["tokens"])) or 1, pad_b=30)
    sx, sy = axes.sx, axes.sy
    parts = axes.open("vocab-plot") + axes.y_labels(".0f")
    parts.append(f'<text x="{axes.pad_l}" y="{height - 8}" fill="#555">0</text>')
    parts.append(f'<text x="{width - axes.pad_r}" y="{height - 8}" text-anchor="end" fill="#555">{axes.x1} characters</text>')
    for key, colour, label, row in (("base_tokens", "#999", "base", 14), ("tokens", "#1f77b4", "extended", 28)):
        dots = "".join(f'<circle cx="{sx(c):.1f}" cy="{sy(t):.1f}" r="2"/>' for c, t in zip(chars, per[key]))
        parts.append(f'<g class="{key}" fill="{colour}" fill-opacity="0.6">{dots}</g>')
        ratio = report["tokens_per_char_base" if key == "base_tokens" else "tokens_per_char"]
        parts.append(f'<text x="{axes.pad_l + 8}" y="{axes.pad_t + row}" fill="{colour}">{html.escape(label)}: {ratio} tokens/char</text>')
    parts.append("</svg>")
    return "".join(parts)


def warmup_sequences(tokenizer: Any, docs: list[str], seq_len: int = 256) -> Sequences:
    return build_sequences("pretrain", [{"text": d} for d in docs], tokenizer, seq_len, packing=True)


def loss_report(
    load_base: Callable[[], Any], base_tokenizer: Any, extended: Any, meta: dict[str, Any], docs: list[str],
    device: str, inits: list[str], warmup_steps: int = 0, warmup_docs: list[str] | None = None,
    warmup_lr: float | None = None, progress: Callable[[str], None] | None = None,
    warmup_batch: tuple[int, int] = (4, 256), warmup_inits: list[str] | None = None,
) -> dict[str, float]:
    """Nats per character for the base model and for each initialisation (``NAME+warmup`` after warm-up)."""
    from core.ziptie import WARMUP_LR, resize_and_init, warm_up

    say = progress or (lambda _m: None)
    records, base_size = meta["new_tokens"], meta["base_vocab_size"]
    say("measuring the base model")
    results = {"base": round(nats_per_char(load_base(), base_tokenizer, docs, device), 4)}
    for init in inits:
        say(f"measuring init {init}")
        model = resize_and_init(load_base(), records, base_size, init)
        results[init] = round(nats_per_char(model, extended, docs, device), 4)
        if warmup_steps > 0 and warmup_docs and (warmup_inits is None or init in warmup_inits):
            say(f"warming up {init} for {warmup_steps} steps")
            batch_size, seq_len = warmup_batch
            train_set = warmup_sequences(extended, warmup_docs, seq_len)
            stream = (b for epoch in range(10**6) for b in batches(train_set, batch_size, epoch, 0, extended.pad_token_id))
            warm_up(model, stream, warmup_steps, base_size, device, lr=warmup_lr or WARMUP_LR)
            results[f"{init}+warmup"] = round(nats_per_char(model, extended, docs, device), 4)
        del model
    return results


def save_report(folder: str | Path, report: dict[str, Any]) -> Path:
    path = Path(folder) / REPORT_FILE
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_report(folder: str | Path) -> dict[str, Any] | None:
    path = Path(folder) / REPORT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _first_chars(docs: list[str], limit: int) -> list[str]:
    out, total = [], 0
    for doc in docs:
        if total >= limit:
            break
        out.append(doc[: limit - total])
        total += len(out[-1])
    return out


def report_for_folder(
    folder: str | Path, workspace: Any, *, text_docs: list[str] | None = None, inits: list[str] | tuple[str, ...] = (),
    warmup_steps: int = 0, eval_chars: int = 20000, device: str = "auto", base_model: str | None = None,
    progress: Callable[[str], None] | None = None, **loss_options: Any,
) -> dict[str, Any]:
    """The full report for an extended tokenizer folder, saved into it; ``inits`` empty skips the model."""
    import torch

    from core.errors import DataError
    from core.models import load_base_model, load_tokenizer, pick_device, resolve_model
    from core.vocab import documents_from_refs, held_out_text, load_extended, read_meta, split_held_out
    from core.ziptie import strategy

    for init in inits:
        strategy(init)  # refuse an unknown name before any model loads
    meta = read_meta(Path(folder))
    source = resolve_model(base_model or meta.get("base_model", "default"), workspace)
    base_tokenizer = load_tokenizer(source, workspace)
    extended, meta = load_extended(folder, base_tokenizer)
    docs = text_docs if text_docs is not None else held_out_text(folder)
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise DataError(f"no held-out text to measure in {folder}; pass a text file")
    report: dict[str, Any] = {"new_tokens": len(meta["new_tokens"]), "vocab_size": len(extended), **efficiency(base_tokenizer, extended, docs)}
    if inits:
        device = pick_device(device)
        warm_docs = split_held_out(documents_from_refs(meta["sources"]))[0] if warmup_steps > 0 else None

        def load_base():
            return load_base_model(source, workspace, device=device, compute_dtype=torch.float32)

        measured = _first_chars(docs, eval_chars)
        report["eval_characters"] = sum(len(d) for d in measured)
        report["warmup_steps"] = warmup_steps
        report["nats_per_char"] = loss_report(load_base, base_tokenizer, extended, meta, measured, device, list(inits),
                                              warmup_steps, warm_docs, progress=progress, **loss_options)
    save_report(folder, report)
    return report
