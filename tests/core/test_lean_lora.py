"""The lean LoRA path must compute exactly what peft computes: outputs and every gradient."""

import copy

import pytest
import torch

from core import lean_lora


def _peft_model(quantized: bool, dropout: float):
    import peft
    from transformers import BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = LlamaForCausalLM(config)
    if quantized:
        import tempfile

        folder = tempfile.mkdtemp()
        model.save_pretrained(folder)
        model = LlamaForCausalLM.from_pretrained(folder, device_map={"": "cpu"}, dtype=torch.float32, quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.float32))
    lora = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = peft.get_peft_model(model, lora)
    # Non-zero B so the LoRA branch contributes to outputs and to input gradients.
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)
    return model


def _grads(model, ids):
    model.zero_grad()
    out = model(input_ids=ids).logits
    out.pow(2).mean().backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("quantized", [False, True], ids=["fp32-base", "nf4-base"])
def test_outputs_and_gradients_match_peft(quantized):
    reference = _peft_model(quantized, dropout=0.0)
    lean = copy.deepcopy(reference)
    assert lean_lora.install(lean) == 14
    ids = torch.randint(0, 128, (2, 12))
    want_out, want = _grads(reference.train(), ids)
    got_out, got = _grads(lean.train(), ids)
    torch.testing.assert_close(got_out, want_out, rtol=1e-5, atol=1e-5)
    assert got.keys() == want.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-6, msg=name)


def test_dropout_mask_is_applied_to_the_lora_branch_in_forward_and_backward():
    model = _peft_model(False, dropout=0.5)
    lean_lora.install(model)
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    x = torch.randn(3, 64, requires_grad=True)
    a, b, s = layer.lora_A["default"].weight, layer.lora_B["default"].weight, layer.scaling["default"]
    torch.manual_seed(7)
    out = layer(x)
    grads = torch.autograd.grad(out.sum(), (x, a, b))
    torch.manual_seed(7)
    mask = lean_lora.dropout_mask(x, 0.5)
    expected = layer.base_layer(x) + s * ((x * mask / 0.5) @ a.t()) @ b.t()
    expected_grads = torch.autograd.grad(expected.sum(), (x, a, b))
    torch.testing.assert_close(out, expected)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want)


def test_eval_without_grad_uses_peft_forward_and_skips_dropout():
    model = _peft_model(False, dropout=0.5)
    reference = copy.deepcopy(model).eval()
    lean_lora.install(model)
    ids = torch.randint(0, 128, (1, 8))
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(input_ids=ids).logits, reference(input_ids=ids).logits)


def test_lean_swiglu_matches_autograd():
    from core.swiglu import silu_mul

    gate = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
    up = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(silu_mul, (gate, up))
    torch.testing.assert_close(silu_mul(gate, up), torch.nn.functional.silu(gate) * up)
