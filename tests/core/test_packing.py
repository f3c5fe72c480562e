import pytest

from core.chat_templates import apply_template_choice, render_with_assistant_spans
from core.errors import DataError
from core.packing import (IGNORE, batches, build_sequences, epoch_order, pack_first_fit_decreasing, pretrain_sequences,
                          sft_row, sft_sequences)

CONVERSATION = [
    {"role": "system", "content": "你是一位樂於助人的助理。"},
    {"role": "user", "content": "臺北有什麼好吃的？"},
    {"role": "assistant", "content": "可以去寧夏夜市吃蚵仔煎。"},
    {"role": "user", "content": "How about dessert?"},
    {"role": "assistant", "content": "Try shaved ice with mango."},
]


def test_pretraining_packs_documents_with_eos_into_full_blocks(tokenizer):
    docs = [{"text": "今天天氣很好。" * 5}, {"text": "我們去公園散步吧。" * 5}, {"text": "Hello world " * 10}]
    seqs = pretrain_sequences(docs, tokenizer, seq_len=32, packing=True)
    stream = []
    for d in docs:
        stream += tokenizer(d["text"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert all(len(row) == 32 for row in seqs.input_ids)
    assert [t for row in seqs.input_ids for t in row] == stream[: len(seqs) * 32]
    assert seqs.labels == seqs.input_ids


def test_pretraining_without_packing_keeps_one_document_per_row(tokenizer):
    seqs = pretrain_sequences([{"text": "短句。"}, {"text": "另一句話。" * 50}], tokenizer, seq_len=16, packing=False)
    assert len(seqs) == 2 and len(seqs.input_ids[1]) == 16 and seqs.input_ids[0][-1] == tokenizer.eos_token_id


@pytest.mark.parametrize("template", ["auto", "chatml", "llama3", "zephyr"])
def test_sft_labels_are_ignored_exactly_on_non_assistant_tokens(tokenizer, template):
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    apply_template_choice(tok, template)
    ids, labels = sft_row(CONVERSATION, tok)
    text, spans = render_with_assistant_spans(tok, CONVERSATION)
    offsets = tok(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    assert len(ids) == len(labels) == len(offsets)
    for token_id, label, (start, end) in zip(ids, labels, offsets):
        in_assistant = any(s <= start < e for s, e in spans)
        assert label == (token_id if in_assistant else IGNORE), (tok.decode([token_id]), start)
    trained = tok.decode([t for t in labels if t != IGNORE])
    # Both replies, each with its end-of-turn marker, and nothing the user or system said.
    assert "蚵仔煎" in trained and "mango" in trained
    assert "臺北" not in trained and "dessert" not in trained and "助理" not in trained
    if template in ("auto", "chatml"):
        assert trained.count("<|im_end|>") == 2


def test_sft_packing_keeps_conversations_whole_and_saves_padding(tokenizer):
    examples = [{"messages": CONVERSATION[1:3]}] * 6
    packed = sft_sequences(examples, tokenizer, seq_len=512, packing=True)
    unpacked = sft_sequences(examples, tokenizer, seq_len=512, packing=False)
    assert len(packed) < len(unpacked)
    assert sum(map(len, packed.input_ids)) == sum(map(len, unpacked.input_ids))
    assert packed.trained_tokens == unpacked.trained_tokens


def test_conversation_without_assistant_turn_is_refused(tokenizer):
    with pytest.raises(DataError, match="example 2: conversation has no assistant turn"):
        sft_sequences([{"messages": CONVERSATION}, {"messages": CONVERSATION[:2]}], tokenizer, 256, True)


def test_sft_on_plain_text_is_refused(tokenizer):
    with pytest.raises(DataError, match="SFT needs conversations"):
        build_sequences("sft", [{"text": "hello"}], tokenizer, 64, True)


def test_batches_pad_and_mask(tokenizer):
    seqs = pretrain_sequences([{"text": "一二三"}, {"text": "一二三四五六七八九十" * 3}], tokenizer, 64, packing=False)
    batch = next(batches(seqs, 2, epoch=0, seed=0, pad_id=tokenizer.pad_token_id))
    short = int(batch["attention_mask"].sum(1).min())
    row = int(batch["attention_mask"].sum(1).argmin())
    assert (batch["labels"][row, short:] == IGNORE).all() and (batch["attention_mask"][row, short:] == 0).all()


def test_epoch_order_is_reproducible_and_changes_per_epoch():
    assert epoch_order(50, 0, 42) == epoch_order(50, 0, 42)
    assert epoch_order(50, 0, 42) != epoch_order(50, 1, 42)


def test_first_fit_decreasing_fills_blocks_and_places_every_conversation_once():
    import random

    rng = random.Random(3)
    lengths = [rng.randint(40, 330) for _ in range(200)]
    bins = pack_first_fit_decreasing(lengths, 512)
    placed = sorted(i for b in bins for i in b)
    assert placed == list(range(200))
    assert all(sum(lengths[i] for i in b) <= 512 for b in bins)
    assert all(b == sorted(b) for b in bins)
    # Within one block of the ideal, where arrival-order packing needs many more.
    assert len(bins) <= -(-sum(lengths) // 512) + 1


def test_packed_conversations_are_isolated_from_each_other(tokenizer, tiny_model_dir):
    """A conversation's loss inside a pack equals its loss alone: nothing leaks across the boundary."""
    import torch
    from transformers import LlamaForCausalLM

    from core.loss import causal_lm_loss
    from core.train import _forward_loss

    examples = [{"messages": CONVERSATION[1:3]}, {"messages": CONVERSATION[1:5]}, {"messages": CONVERSATION[3:5]}]
    packed = sft_sequences(examples, tokenizer, seq_len=512, packing=True)
    alone = sft_sequences(examples, tokenizer, seq_len=512, packing=False)
    assert len(packed) == 1 and len(alone) == 3
    model = LlamaForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    body, head = model.model, model.lm_head

    def summed(seqs):
        total = 0.0
        for batch in batches(seqs, 1, epoch=0, seed=0, pad_id=tokenizer.pad_token_id):
            with torch.no_grad():
                loss, count = _forward_loss(body, head, batch, "cpu")
            total += float(loss) * count
        return total

    # Summed nats over ~70 labels: float noise is ~1e-4, one leaked token of context is ~1e-2 even on a random model.
    assert summed(packed) == pytest.approx(summed(alone), abs=1e-3)
    # The same pack without restarting positions (plain concatenation) is measurably different.
    ids = torch.tensor(packed.input_ids)
    with torch.no_grad():
        hidden = body(input_ids=ids).last_hidden_state
        loss, count = causal_lm_loss(hidden, torch.tensor(packed.labels), head)
    assert abs(float(loss) * count - summed(alone)) > 1e-2


def test_a_padded_batch_of_packs_keeps_padding_out_of_every_pack(tokenizer, tiny_model_dir):
    import torch
    from transformers import LlamaForCausalLM

    from core.train import _forward_loss

    examples = [{"messages": CONVERSATION[1:5]}] * 3 + [{"messages": CONVERSATION[1:3]}]
    longest = len(sft_row(CONVERSATION[1:5], tokenizer)[0])
    packed = sft_sequences(examples, tokenizer, seq_len=2 * longest, packing=True)
    assert len(packed) == 2 and len({len(r) for r in packed.input_ids}) == 2
    model = LlamaForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    together = next(batches(packed, 2, epoch=0, seed=0, pad_id=tokenizer.pad_token_id))
    assert int(together["attention_mask"].sum()) == sum(map(len, packed.input_ids))
    with torch.no_grad():
        loss, count = _forward_loss(model.model, model.lm_head, together, "cpu")
        singles = [_forward_loss(model.model, model.lm_head, b, "cpu") for b in batches(packed, 1, 0, 0, tokenizer.pad_token_id)]
    assert float(loss) * count == pytest.approx(sum(float(l) * n for l, n in singles), abs=1e-3)


def test_per_conversation_attention_matches_the_masked_path_in_values_and_gradients(tokenizer, tiny_model_dir):
    import torch
    from transformers import LlamaForCausalLM

    from core import packed_attention
    from core.train import _forward_loss

    examples = [{"messages": CONVERSATION[1:3]}, {"messages": CONVERSATION[1:5]}, {"messages": CONVERSATION[3:5]}]
    longest = len(sft_row(CONVERSATION[1:5], tokenizer)[0])
    packed = sft_sequences(examples * 2, tokenizer, seq_len=2 * longest, packing=True)
    batch = next(batches(packed, 3, epoch=0, seed=0, pad_id=tokenizer.pad_token_id))
    assert any(len(packed_attention.segment_bounds(row)) > 2 for row in batch["position_ids"].tolist())

    def loss_and_grads(fused: bool):
        model = LlamaForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
        if fused:
            packed_attention.install(model)
        loss, _ = _forward_loss(model.model, model.lm_head, batch, "cpu")
        loss.backward()
        return float(loss), [p.grad.clone() for p in model.model.layers.parameters()]

    masked_loss, masked_grads = loss_and_grads(False)
    fused_loss, fused_grads = loss_and_grads(True)
    assert fused_loss == pytest.approx(masked_loss, abs=1e-5)
    for a, b in zip(masked_grads, fused_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
