"""The Chat tab: talk to any model of the catalog, streaming, and look after the conversation.

A model is loaded inside the studio process on first use (torch is imported then, never at start-up) and
kept in the LRU model cache. The raw conversation lives in a ``gr.State``; the chatbot shows it with
Simplified-only characters marked, so a model sliding into Simplified Chinese is visible at a glance.
Regenerate, edit-and-resend, clear, JSON export and merging a trained adapter into a full model folder
sit under the chat. Settings widgets are shared with the Compare tab.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
import time
from dataclasses import asdict
from typing import Any, Iterator

import gradio as gr

from core.errors import BailongError
from core.inference import GenerationSettings
from core.script_detect import simplified_only
from jobs.catalog import list_models, resolve_model_spec
from jobs.store import JobStore
from studio.i18n import T
from studio.messages import as_message

DEFAULTS = GenerationSettings()


class SettingsWidgets:
    """System prompt and generation settings, bound to ``GenerationSettings``'s fields and defaults."""

    def __init__(self, prefix: str) -> None:
        with gr.Accordion(T("chat.settings"), open=False, elem_id=f"{prefix}-settings"):
            self.system = gr.Textbox(label=T("chat.system"), lines=2, elem_id=f"{prefix}-system")
            with gr.Row():
                self.temperature = gr.Slider(0, 2, value=DEFAULTS.temperature, step=0.05, label="temperature")
                self.top_p = gr.Slider(0.05, 1, value=DEFAULTS.top_p, step=0.05, label="top_p")
                self.top_k = gr.Number(value=DEFAULTS.top_k, precision=0, minimum=0, label="top_k")
            with gr.Row():
                self.repetition_penalty = gr.Slider(1, 2, value=DEFAULTS.repetition_penalty, step=0.05, label="repetition_penalty")
                self.max_new_tokens = gr.Number(value=DEFAULTS.max_new_tokens, precision=0, minimum=1, label="max_new_tokens",
                                                elem_id=f"{prefix}-max-new-tokens")
                self.stop = gr.Textbox(label=T("chat.stop"), lines=1)
                self.load_in_4bit = gr.Checkbox(value=False, label=T("chat.4bit"))

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.system, self.temperature, self.top_p, self.top_k, self.repetition_penalty, self.max_new_tokens,
                self.stop, self.load_in_4bit]


def read_settings(system, temperature, top_p, top_k, repetition_penalty, max_new_tokens, stop, load_in_4bit
                  ) -> tuple[list[dict[str, str]], GenerationSettings, bool]:
    """``(system messages, settings, 4-bit)`` from the settings widgets, validated."""
    stops = [s for s in (stop or "").split("|") if s]
    settings = GenerationSettings(
        temperature=float(temperature), top_p=float(top_p), top_k=int(top_k or 0),
        repetition_penalty=float(repetition_penalty), max_new_tokens=int(max_new_tokens or 1), stop=stops,
    ).validate()
    return ([{"role": "system", "content": system}] if (system or "").strip() else []), settings, bool(load_in_4bit)


def model_choices(store: JobStore) -> list[str]:
    return [spec.name for spec in list_models(store)]


def engine_for(store: JobStore, name: str, load_in_4bit: bool):
    from core.inference import load_engine

    if not name:
        raise BailongError("choose a model first")
    return load_engine(resolve_model_spec(store, name), store.workspace, load_in_4bit=load_in_4bit)


def mark_simplified(text: str) -> str:
    """The answer as HTML with each Simplified-only character highlighted."""
    found = set(simplified_only(text))
    escaped = html.escape(text)
    if not found:
        return escaped
    return re.sub("|".join(map(re.escape, sorted(found))), lambda m: f'<mark class="sc" title="Simplified-only">{m.group(0)}</mark>', escaped)


def display(history: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": mark_simplified(m["content"]) if m["role"] == "assistant" else html.escape(m["content"])}
            for m in history]


def reply_status(reply, stream) -> str:
    parts = [f"{reply.completion_tokens} tokens · {reply.tokens_per_s:.1f} tokens/s · {reply.finish_reason}"]
    if stream.dropped_turns:
        parts.append(f"⚠ the {stream.dropped_turns} oldest messages no longer fit the context and were left out")
    found = simplified_only(reply.text)
    if found:
        parts.append(f"Simplified-only characters: {' '.join(found)}")
    return "  \n".join(parts)


def stream_answer(store: JobStore, model: str, history: list[dict[str, str]], settings_values: list[Any]
                  ) -> Iterator[tuple[list[dict[str, str]], list[dict[str, str]], str]]:
    """Yield ``(chatbot, history, status)`` while the model answers the last user message of ``history``."""
    try:
        system, settings, four_bit = read_settings(*settings_values)
        engine = engine_for(store, model, four_bit)
        stream = engine.stream(system + history, settings)
    except BailongError as error:
        raise gr.Error(str(error), print_exception=False) from None
    notice = f"⚠ the {stream.dropped_turns} oldest messages no longer fit the context and were left out" if stream.dropped_turns else ""
    answer, started = "", time.perf_counter()
    yield display(history), history, notice or "…"
    try:
        for delta in stream:
            answer += delta
            partial = history + [{"role": "assistant", "content": answer}]
            yield display(partial), history, notice or f"{time.perf_counter() - started:.1f} s"
    finally:
        stream.close()  # a closed page must not leave the engine locked
    done = history + [{"role": "assistant", "content": stream.reply.text}]
    yield display(done), done, reply_status(stream.reply, stream)


def conversation_file(model: str, history: list[dict[str, str]], settings_values: list[Any]) -> str:
    system, settings, _ = read_settings(*settings_values)
    data = {"model": model, "settings": asdict(settings), "messages": system + history}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bailong-chat-", delete=False, encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
    return f.name


def build_chat(store: JobStore, tab: gr.Tab) -> None:
    choices = model_choices(store)
    with gr.Row():
        model = gr.Dropdown(choices=choices, value=choices[0] if choices else None, label=T("chat.model"),
                            elem_id="chat-model", scale=4, allow_custom_value=True)
        refresh = gr.Button(T("refresh"), size="sm", scale=0)
        unload = gr.Button(T("chat.unload"), size="sm", scale=0)
    settings = SettingsWidgets("chat")
    history = gr.State([])
    chatbot = gr.Chatbot(label=T("tab.chat"), elem_id="chat-bot", editable="user", height=420)
    status = gr.Markdown(elem_id="chat-status")
    with gr.Row():
        message = gr.Textbox(label=T("chat.message"), elem_id="chat-message", scale=5, lines=2)
        send = gr.Button(T("chat.send"), variant="primary", elem_id="chat-send", scale=1)
    with gr.Row():
        regenerate = gr.Button(T("chat.regenerate"), size="sm", elem_id="chat-regenerate")
        clear = gr.Button(T("chat.clear"), size="sm", elem_id="chat-clear")
        export_json = gr.Button(T("chat.export_json"), size="sm", elem_id="chat-export-json")
        merge = gr.Button(T("chat.merge"), size="sm", elem_id="chat-merge")
    download = gr.File(label=T("chat.download"), visible=False, elem_id="chat-download")
    merged = gr.Markdown(elem_id="chat-merged")
    streamed = [chatbot, history, status]

    def send_message(text, model_name, past, *values):
        if not (text or "").strip():
            raise gr.Error("the message is empty", print_exception=False)
        conversation = past + [{"role": "user", "content": text}]
        yield display(conversation), past, "…", ""  # the question shows at once, even while a model loads
        for shown, kept, note in stream_answer(store, model_name, conversation, list(values)):
            yield shown, kept, note, ""

    def regenerate_last(model_name, past, *values):
        while past and past[-1]["role"] == "assistant":
            past = past[:-1]
        if not past:
            raise gr.Error("nothing to regenerate yet", print_exception=False)
        yield from stream_answer(store, model_name, past, list(values))

    def edit_and_resend(model_name, past, system, temperature, top_p, top_k, repetition_penalty, max_new_tokens, stop,
                        load_in_4bit, evt: gr.EditData):
        values = [system, temperature, top_p, top_k, repetition_penalty, max_new_tokens, stop, load_in_4bit]
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        if index >= len(past) or past[index]["role"] != "user" or not str(evt.value).strip():
            raise gr.Error("only a non-empty message you wrote can be edited and resent", print_exception=False)
        conversation = past[:index] + [{"role": "user", "content": str(evt.value)}]
        yield from stream_answer(store, model_name, conversation, values)

    @as_message
    def export_conversation(model_name, past, *values):
        if not past:
            raise gr.Error("the conversation is empty", print_exception=False)
        return gr.update(value=conversation_file(model_name, past, list(values)), visible=True)

    @as_message
    def merge_model(model_name):
        from core.export import export_merged

        spec = resolve_model_spec(store, model_name)
        if not spec.adapter_dir:
            raise BailongError(f"{model_name} has no adapter to merge; choose a trained model (job:…)")
        folder_name = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name.removeprefix("job:")) + "-merged"
        target = export_merged(spec, store.workspace, store.workspace.models / folder_name)
        return f"merged into `{target}`; it is now in the model list", gr.update(choices=model_choices(store))

    @as_message
    def unload_model(model_name):
        from core.inference import unload_engine

        found = any(unload_engine(resolve_model_spec(store, model_name), load_in_4bit=b) for b in (False, True))
        return f"{model_name} unloaded" if found else f"{model_name} was not loaded"

    settings_inputs = settings.inputs
    gr.on([send.click, message.submit], send_message, [message, model, history, *settings_inputs], [*streamed, message])
    regenerate.click(regenerate_last, [model, history, *settings_inputs], streamed)
    chatbot.edit(edit_and_resend, [model, history, *settings_inputs], streamed)
    clear.click(lambda: ([], [], "", gr.update(value=None, visible=False)), None, [*streamed, download])
    chatbot.clear(lambda: ([], ""), None, [history, status])  # the chatbot's own trash button
    export_json.click(export_conversation, [model, history, *settings_inputs], download)
    merge.click(merge_model, model, [merged, model])
    unload.click(unload_model, model, status)
    gr.on([refresh.click, tab.select], as_message(lambda: gr.update(choices=model_choices(store))), None, model,
          show_progress="hidden")
