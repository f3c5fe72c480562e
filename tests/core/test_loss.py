import torch

from core.loss import causal_lm_loss, reference_loss
from core.packing import IGNORE


def _case(requires_head_grad: bool):
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 50, bias=False)
    head.weight.requires_grad_(requires_head_grad)
    hidden = torch.randn(2, 9, 16, requires_grad=True)
    labels = torch.randint(0, 50, (2, 9))
    labels[0, :3] = IGNORE
    labels[1, -2:] = IGNORE
    return head, hidden, labels


def test_fused_frozen_head_matches_full_logits_loss_and_gradient():
    head, hidden, labels = _case(requires_head_grad=False)
    loss, count = causal_lm_loss(hidden, labels, head, chunk=4)
    (grad,) = torch.autograd.grad(loss, hidden)
    expected = reference_loss(head(hidden), labels)
    (expected_grad,) = torch.autograd.grad(expected, hidden)
    assert count == int((labels[:, 1:] != IGNORE).sum())
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(grad, expected_grad)


def test_trainable_head_takes_the_checkpointed_chunk_path():
    head, hidden, labels = _case(requires_head_grad=True)
    loss, _ = causal_lm_loss(hidden, labels, head, chunk=5)
    grads = torch.autograd.grad(loss, (hidden, head.weight))
    expected = reference_loss(head(hidden), labels)
    expected_grads = torch.autograd.grad(expected, (hidden, head.weight))
    torch.testing.assert_close(loss, expected)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want)


def test_batch_without_labels_gives_zero_loss_that_still_backpropagates():
    head, hidden, labels = _case(False)
    loss, count = causal_lm_loss(hidden, torch.full_like(labels, IGNORE), head)
    loss.backward()
    assert count == 0 and float(loss) == 0.0 and hidden.grad is not None
