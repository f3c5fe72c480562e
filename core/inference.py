"""Chatting with a model: multi-turn prompts through its chat template, streaming, batches and stop strings.

A ``ChatEngine`` wraps one loaded model and its tokenizer. ``generate`` calls ``model.generate`` once (so
it costs what the raw call costs); ``stream`` runs the same call in a thread and hands out text as tokens
arrive, holding back the few characters that could still turn into a stop string, so the streamed text
always equals the non-streamed one; ``generate_batch`` left-pads many conversations into one call. A
conversation longer than the model's context loses its oldest turns (the system prompt stays) and the
reply says how many were dropped. One engine runs one generation at a time: concurrent callers queue on
its lock instead of interleaving on the same weights. ``load_engine`` goes through an LRU model cache.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator

from core.errors import BailongError
from core.model_cache import ModelCache, model_bytes
from core.model_spec import ModelSpec
from core.workspace import Workspace

ROLES = ("system", "user", "assistant")
MAX_STOP_STRINGS = 16
BATCH_SIZE = 16


class GenerationError(BailongError):
    reason = "bad request"


@dataclass
class GenerationSettings:
    temperature: float = 0.6
    """0 decodes greedily; higher is more varied (0 to 2)."""
    top_p: float = 0.9
    """Sample only from the smallest set of tokens whose probabilities add up to this (0 to 1]."""
    top_k: int = 40
    """Sample only from this many most likely tokens (0 turns it off)."""
    repetition_penalty: float = 1.1
    """Above 1 discourages repeating tokens already in the conversation."""
    max_new_tokens: int = 512
    """The longest reply, in tokens."""
    stop: list[str] = field(default_factory=list)
    """The reply ends before the first of these strings."""
    seed: int | None = None
    """Makes sampling repeatable."""

    def validate(self) -> "GenerationSettings":
        """Raise a one-line ``GenerationError`` for the first value out of range; returns self."""
        checks = [
            ("temperature", isinstance(self.temperature, (int, float)) and 0 <= self.temperature <= 2, "a number from 0 to 2"),
            ("top_p", isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1, "a number above 0 and at most 1"),
            ("top_k", isinstance(self.top_k, int) and not isinstance(self.top_k, bool) and self.top_k >= 0, "a whole number ≥ 0"),
            ("repetition_penalty", isinstance(self.repetition_penalty, (int, float)) and 0 < self.repetition_penalty <= 10,
             "a number above 0 and at most 10"),
            ("max_new_tokens", isinstance(self.max_new_tokens, int) and not isinstance(self.max_new_tokens, bool)
             and 1 <= self.max_new_tokens <= 32768, "a whole number from 1 to 32768"),
            ("stop", isinstance(self.stop, list) and len(self.stop) <= MAX_STOP_STRINGS
             and all(isinstance(s, str) and s for s in self.stop), f"up to {MAX_STOP_STRINGS} non-empty strings"),
            ("seed", self.seed is None or (isinstance(self.seed, int) and not isinstance(self.seed, bool)), "a whole number"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise GenerationError(f"{name}: {getattr(self, name)!r} is not allowed; expected {allowed}")
        return self

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "GenerationSettings":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise GenerationError(f"unknown generation setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return cls(**values).validate()


@dataclass
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    finish_reason: str  # "stop" (end of turn or a stop string) | "length" (max_new_tokens reached)
    dropped_turns: int  # earlier messages left out to fit the context

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


def validate_messages(messages: Any) -> list[dict[str, str]]:
    """OpenAI-style messages ending with a non-empty user message, or a one-line ``GenerationError``."""
    if not isinstance(messages, list) or not messages:
        raise GenerationError("messages: the conversation is empty")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES or not isinstance(message.get("content"), str):
            raise GenerationError(f"messages[{i}]: expected {{'role': one of {', '.join(ROLES)}, 'content': text}}")
    if messages[-1]["role"] != "user":
        raise GenerationError("messages: the conversation must end with a user message")
    if not messages[-1]["content"].strip():
        raise GenerationError("messages: the message is empty")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


@dataclass
class _Prompt:
    ids: list[int]
    dropped_turns: int


class ReplyStream:
    """Iterates text deltas; ``reply`` holds the finished ``Reply`` once iteration ends."""

    def __init__(self, deltas: Iterator[str], dropped_turns: int) -> None:
        self._deltas = deltas
        self.dropped_turns = dropped_turns
        self.reply: Reply | None = None

    def __iter__(self) -> "ReplyStream":
        return self

    def __next__(self) -> str:
        return next(self._deltas)

    def close(self) -> None:
        self._deltas.close()  # type: ignore[attr-defined]


class _TokenQueue:
    """A generate() streamer that passes new token ids to the reading thread (the prompt is skipped)."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.queue.put(value.reshape(-1).tolist())

    def end(self) -> None:
        self.queue.put(None)


def _stop_on_text(decode: Any, stop: list[str], prompt_width: int):
    """A stopping criterion that looks for stop strings in the generated text only.

    transformers' own ``stop_strings`` also matches across the end of the prompt (a template that ends
    with a newline would stop a ``"\\n\\n"`` reply after one newline), which is not what a chat API means.
    A stop string of k characters spans at most k tokens, so only the last few tokens are decoded.
    """
    import torch
    from transformers import StoppingCriteria

    window = 2 * max(len(s) for s in stop) + 4

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            tails = input_ids[:, max(prompt_width, input_ids.shape[1] - window):].tolist()
            hits = [cut_at_stop(decode(t), stop)[1] for t in tails]
            return torch.tensor(hits, dtype=torch.bool, device=input_ids.device)

    return StopOnText()


class ChatEngine:
    def __init__(self, name: str, model: Any, tokenizer: Any) -> None:
        from core.chat_templates import apply_template_choice
        from core.models import max_positions

        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.template = apply_template_choice(tokenizer, "auto")
        self.context = max_positions(model.config) or 2048
        self.lock = threading.Lock()
        # Fast tokenizers refuse concurrent use ("Already borrowed"); prompts are encoded outside ``lock``.
        self.tokenizer_lock = threading.RLock()
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tokenizer.eos_token_id is not None:
            eos_ids.add(tokenizer.eos_token_id)
        self.eos_ids = eos_ids
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(eos_ids), 0)

    @property
    def device(self):
        return next(self.model.parameters()).device

    # ---- prompts ---------------------------------------------------------------------------------

    def _encode(self, messages: list[dict[str, str]]) -> list[int]:
        with self.tokenizer_lock:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        with self.tokenizer_lock:
            return self.tokenizer.decode(ids, skip_special_tokens=True)

    def prepare(self, messages: list[dict[str, str]], settings: GenerationSettings) -> _Prompt:
        """Token ids for the conversation, dropping the oldest turns (never the system prompt) until it fits."""
        messages = validate_messages(messages)
        settings.validate()
        room = self.context - settings.max_new_tokens
        if room < 1:
            raise GenerationError(f"max_new_tokens: {settings.max_new_tokens} leaves no room for the prompt in the model's context of {self.context} tokens")
        system = [m for m in messages[:1] if m["role"] == "system"]
        turns = messages[len(system):]
        dropped = 0
        while True:
            ids = self._encode(system + turns)
            if len(ids) <= room:
                return _Prompt(ids, dropped)
            if len(turns) <= 1:
                raise GenerationError(
                    f"messages: the last message needs {len(ids)} tokens with the system prompt; the model's context "
                    f"of {self.context} tokens leaves {room} after max_new_tokens={settings.max_new_tokens}"
                )
            # Drop the oldest turn, then any assistant turns, so what is left still opens with the user.
            turns = turns[1:]
            dropped += 1
            while len(turns) > 1 and turns[0]["role"] != "user":
                turns = turns[1:]
                dropped += 1

    def _generate_kwargs(self, settings: GenerationSettings, prompt_width: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens, "repetition_penalty": float(settings.repetition_penalty),
            "pad_token_id": self.pad_id, "eos_token_id": sorted(self.eos_ids),
        }
        if settings.temperature == 0:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=float(settings.temperature), top_p=float(settings.top_p),
                          top_k=settings.top_k)  # 0 turns top-k off (None would mean transformers' default of 50)
        if settings.stop:
            kwargs["stopping_criteria"] = [_stop_on_text(self.decode, settings.stop, prompt_width)]
        if settings.seed is not None:
            import torch

            torch.manual_seed(settings.seed)
        return kwargs

    def _finish(self, new_ids: list[int], prompt: _Prompt, settings: GenerationSettings, seconds: float) -> Reply:
        """Turn a row of generated ids into a reply: cut at end-of-turn and stop strings, count, classify."""
        ended = False
        for i, token in enumerate(new_ids):
            if token in self.eos_ids:
                new_ids, ended = new_ids[: i + 1], True
                break
        while not ended and new_ids and new_ids[-1] == self.pad_id:
            new_ids = new_ids[:-1]
        text, stopped = cut_at_stop(self.decode(new_ids), settings.stop)
        reason = "stop" if ended or stopped or len(new_ids) < settings.max_new_tokens else "length"
        return Reply(text, len(prompt.ids), len(new_ids), seconds, reason, prompt.dropped_turns)

    # ---- generating ------------------------------------------------------------------------------

    def generate(self, messages: list[dict[str, str]], settings: GenerationSettings | None = None) -> Reply:
        import torch

        settings = settings or GenerationSettings()
        prompt = self.prepare(messages, settings)
        with self.lock:
            started = time.perf_counter()
            input_ids = torch.tensor([prompt.ids], device=self.device)
            output = self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                         **self._generate_kwargs(settings, len(prompt.ids)))
            seconds = time.perf_counter() - started
        return self._finish(output[0, len(prompt.ids):].tolist(), prompt, settings, seconds)

    def stream(self, messages: list[dict[str, str]], settings: GenerationSettings | None = None) -> ReplyStream:
        """Text deltas as they are generated; errors in the conversation or settings raise before the first."""
        settings = settings or GenerationSettings()
        prompt = self.prepare(messages, settings)
        stream = ReplyStream(iter(()), prompt.dropped_turns)
        stream._deltas = self._stream_deltas(prompt, settings, stream)
        return stream

    def _stream_deltas(self, prompt: _Prompt, settings: GenerationSettings, stream: ReplyStream) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria

        cancelled = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool, device=input_ids.device)

        tokens = _TokenQueue()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                input_ids = torch.tensor([prompt.ids], device=self.device)
                criteria = kwargs.pop("stopping_criteria", []) + [_Cancelled()]
                self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), streamer=tokens,
                                    stopping_criteria=criteria, **kwargs)
            except BaseException as error:  # re-raised in the reading thread
                failure.append(error)
                tokens.end()

        # Text that could still grow into a stop string is held back until it cannot.
        holdback = max((len(s) for s in settings.stop), default=1) - 1
        self.lock.acquire()
        worker = None
        try:
            kwargs = self._generate_kwargs(settings, len(prompt.ids))
            started = time.perf_counter()
            worker = threading.Thread(target=run, name=f"generate-{self.name}", daemon=True)
            worker.start()
            new_ids: list[int] = []
            sent = 0
            while (chunk := tokens.queue.get()) is not None:
                new_ids.extend(chunk)
                text = self.decode(new_ids)
                if text.endswith("\ufffd"):  # half of a multi-byte character
                    continue
                text, stopped = cut_at_stop(text, settings.stop)
                ready = len(text) if stopped else max(len(text) - holdback, sent)
                if ready > sent:
                    yield text[sent:ready]
                    sent = ready
            worker.join()
            if failure:
                raise failure[0]
            stream.reply = self._finish(new_ids, prompt, settings, time.perf_counter() - started)
            if len(stream.reply.text) > sent:
                yield stream.reply.text[sent:]
        finally:
            cancelled.set()
            if worker is not None:
                worker.join()
            self.lock.release()

    def generate_batch(self, conversations: list[list[dict[str, str]]], settings: GenerationSettings | None = None,
                       batch_size: int = BATCH_SIZE) -> list[Reply]:
        """Replies for many conversations, ``batch_size`` at a time in one left-padded ``generate`` call each."""
        import torch

        settings = settings or GenerationSettings()
        prompts = [self.prepare(c, settings) for c in conversations]
        replies: list[Reply] = []
        for start in range(0, len(prompts), batch_size):
            group = prompts[start:start + batch_size]
            width = max(len(p.ids) for p in group)
            ids = torch.tensor([[self.pad_id] * (width - len(p.ids)) + p.ids for p in group], device=self.device)
            mask = torch.tensor([[0] * (width - len(p.ids)) + [1] * len(p.ids) for p in group], device=self.device)
            with self.lock:
                started = time.perf_counter()
                output = self.model.generate(input_ids=ids, attention_mask=mask, **self._generate_kwargs(settings, width))
                seconds = time.perf_counter() - started
            replies += [self._finish(output[i, width:].tolist(), p, settings, seconds) for i, p in enumerate(group)]
        return replies


# ---- loading -------------------------------------------------------------------------------------

CACHE = ModelCache()


def load_model(spec: ModelSpec, workspace: Workspace, *, load_in_4bit: bool = False) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a spec, in eval mode; trained runs load through ``core.reload``."""
    from core.models import load_base_model, load_tokenizer, pick_compute_dtype, pick_device, quantization_config, resolve_model

    if spec.adapter_dir:
        from core.reload import load_trained

        run_dir = spec.run_dir
        model, tokenizer = load_trained(run_dir, workspace, bits=4 if load_in_4bit else "none")
        if spec.checkpoint:
            checkpoint = Path(spec.checkpoint)
            if not (checkpoint / "adapter_config.json").is_file():
                from core.errors import ModelError

                raise ModelError(f"{spec.name}: checkpoint {checkpoint} is gone (only the last two are kept)")
            model.load_adapter(str(checkpoint), adapter_name="checkpoint")
            model.set_adapter("checkpoint")
        model.eval()
        return model, tokenizer
    device = pick_device("auto")
    dtype = pick_compute_dtype("auto", device)
    quant = quantization_config(4, "nf4", True, dtype) if load_in_4bit else None
    source = resolve_model(spec.base_model, workspace)
    model = load_base_model(source, workspace, device=device, compute_dtype=dtype, quant=quant)
    model.eval()
    tokenizer = load_tokenizer(str(spec.tokenizer_dir) if spec.tokenizer_dir else source, workspace)
    return model, tokenizer


def load_engine(spec: ModelSpec, workspace: Workspace, *, load_in_4bit: bool = False, cache: ModelCache | None = None) -> ChatEngine:
    """The engine for ``spec``, from the cache when it was loaded before."""
    def load() -> ChatEngine:
        model, tokenizer = load_model(spec, workspace, load_in_4bit=load_in_4bit)
        return ChatEngine(spec.name, model, tokenizer)

    return (cache or CACHE).get((spec.key, load_in_4bit), load, lambda engine: model_bytes(engine.model))


def unload_engine(spec: ModelSpec, *, load_in_4bit: bool = False, cache: ModelCache | None = None) -> bool:
    return (cache or CACHE).unload((spec.key, load_in_4bit))
