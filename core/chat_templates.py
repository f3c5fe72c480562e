"""Chat templates for SFT, and finding which characters of a rendered conversation the assistant wrote.

SFT trains only on assistant turns, so we need the exact span of each assistant message (including its
end-of-turn marker, so the model learns to stop) inside the text the template produces. Rather than
parse every template's syntax, we render growing prefixes of the conversation: the text before turn i
with a generation prompt ends where the assistant's reply starts, and the text through turn i ends
where it stops. This works for any template whose rendering of a prefix is a prefix of the whole.
"""

from __future__ import annotations

from typing import Any

from core.errors import DataError

FALLBACK_TEMPLATES = {
    "chatml": (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
        " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "zephyr": (
        "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    ),
}


def apply_template_choice(tokenizer: Any, choice: str) -> str:
    """Set the tokenizer's chat template per ``data.template``; returns the name of the one in use."""
    if choice == "auto":
        if getattr(tokenizer, "chat_template", None):
            return "model"
        choice = "chatml"
    tokenizer.chat_template = FALLBACK_TEMPLATES[choice]
    return choice


def validate_conversation(messages: list[dict[str, str]], where: str) -> None:
    if not messages:
        raise DataError(f"{where}: conversation is empty")
    if not any(m["role"] == "assistant" for m in messages):
        raise DataError(f"{where}: conversation has no assistant turn, so there is nothing to train on")


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def render_with_assistant_spans(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the ``[start, end)`` character spans the assistant wrote."""
    full = _render(tokenizer, messages, False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], True) if i else ""
        through = _render(tokenizer, messages[: i + 1], False)
        if not (full.startswith(before) and full.startswith(through) and len(before) <= len(through)):
            raise DataError(
                "the chat template does not render conversations prefix by prefix, so assistant turns cannot "
                "be located; choose data.template: chatml, llama3 or zephyr"
            )
        spans.append((len(before), len(through)))
    return full, spans
