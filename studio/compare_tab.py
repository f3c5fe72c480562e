"""The Compare tab: two models answer the same conversation side by side, then the user votes.

In blind mode the two picks are shuffled onto sides A and B and their names stay hidden until the vote,
so the vote judges answers, not names. Each side keeps its own history (a model sees its own earlier
answers). Both answers stream at once when the models differ; the same model twice answers one side after
the other, because one engine runs one generation at a time. Votes go to the ``votes`` table and the
running win/tie/loss table per model pair is shown under the buttons.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any

import gradio as gr

from core.errors import BailongError
from jobs.store import JobStore
from jobs.votes import pair_table, record_vote
from studio.chat_tab import SettingsWidgets, display, engine_for, model_choices, read_settings
from studio.i18n import T
from studio.messages import as_message

TABLE_HEADERS = ["model 1", "model 2", "1 wins", "2 wins", "ties", "both bad", "votes"]


def vote_rows(store: JobStore) -> list[list[Any]]:
    return [[r.first, r.second, r.first_wins, r.second_wins, r.ties, r.both_bad, r.total] for r in pair_table(store)]


def names_line(state: dict[str, Any], answering: bool = False) -> str:
    if not state.get("a"):
        return ""
    if answering:
        return "answering …"
    if state["blind"] and not state["voted"]:
        return "A and B are hidden until you vote."
    return f"A = **{state['a']}**, B = **{state['b']}**"


def _new_round(first: str, second: str, blind: bool) -> dict[str, Any]:
    pair = [first, second]
    if blind:
        random.shuffle(pair)
    return {"a": pair[0], "b": pair[1], "picked": [first, second], "blind": blind, "history_a": [], "history_b": [],
            "voted": False, "settings": None}


def build_compare(store: JobStore, tab: gr.Tab) -> None:
    choices = model_choices(store)
    with gr.Row():
        first = gr.Dropdown(choices=choices, value=choices[0] if choices else None, label=T("compare.first"),
                            elem_id="compare-first", allow_custom_value=True)
        second = gr.Dropdown(choices=choices, value=choices[-1] if choices else None, label=T("compare.second"),
                             elem_id="compare-second", allow_custom_value=True)
        blind = gr.Checkbox(value=True, label=T("compare.blind"), elem_id="compare-blind")
    settings = SettingsWidgets("compare")
    state = gr.State({})
    with gr.Row():
        bot_a = gr.Chatbot(label="A", elem_id="compare-a", height=360)
        bot_b = gr.Chatbot(label="B", elem_id="compare-b", height=360)
    names = gr.Markdown(elem_id="compare-names")
    with gr.Row():
        message = gr.Textbox(label=T("chat.message"), elem_id="compare-message", scale=5, lines=2)
        send = gr.Button(T("chat.send"), variant="primary", elem_id="compare-send", scale=1)
    with gr.Row():
        votes = {w: gr.Button(T(f"compare.vote_{w}"), size="sm", elem_id=f"vote-{w}") for w in ("a", "b", "tie", "both_bad")}
        clear = gr.Button(T("chat.clear"), size="sm", elem_id="compare-clear")
    table = gr.Dataframe(headers=TABLE_HEADERS, value=vote_rows(store), interactive=False, label=T("compare.table"),
                         elem_id="compare-table")

    def answer(text, model_1, model_2, blind_mode, current, *values):
        if not (text or "").strip():
            raise gr.Error("the message is empty", print_exception=False)
        if not model_1 or not model_2:
            raise gr.Error("choose two models", print_exception=False)
        if not current or current["picked"] != [model_1, model_2] or current["blind"] != blind_mode:
            current = _new_round(model_1, model_2, bool(blind_mode))
        try:
            system, gen, four_bit = read_settings(*values)
            engines = {side: engine_for(store, current[side], four_bit) for side in ("a", "b")}
        except BailongError as error:
            raise gr.Error(str(error), print_exception=False) from None
        asked = {side: current[f"history_{side}"] + [{"role": "user", "content": text}] for side in ("a", "b")}
        texts = {"a": "", "b": ""}
        current = {**current, "voted": False, "settings": asdict(gen)}

        def shown():
            return [display(asked[s] + [{"role": "assistant", "content": texts[s]}]) for s in ("a", "b")]

        yield *shown(), current, names_line(current, answering=True), ""
        try:
            streams = {side: engines[side].stream(system + asked[side], gen) for side in ("a", "b")}
        except BailongError as error:
            raise gr.Error(str(error), print_exception=False) from None
        # One engine runs one generation at a time: the same model twice must answer one side after the other.
        rounds = [["a", "b"]] if engines["a"] is not engines["b"] else [["a"], ["b"]]
        try:
            for sides in rounds:
                active = list(sides)
                while active:
                    for side in list(active):
                        try:
                            texts[side] += next(streams[side])
                        except StopIteration:
                            active.remove(side)
                    yield *shown(), current, names_line(current, answering=True), ""
        finally:
            for stream in streams.values():  # a closed page must not leave an engine locked
                stream.close()
        for side in ("a", "b"):
            texts[side] = streams[side].reply.text
            current[f"history_{side}"] = asked[side] + [{"role": "assistant", "content": texts[side]}]
        yield *shown(), current, names_line(current), ""

    def vote(winner):
        @as_message
        def cast(current):
            if not current or not current.get("history_a"):
                raise BailongError("ask both models something before voting")
            if current["voted"]:
                raise BailongError("this answer pair already has your vote; send another message")
            record_vote(store, model_a=current["a"], model_b=current["b"], winner=winner, blind=current["blind"],
                        conversation=current["history_a"][:-1], answer_a=current["history_a"][-1]["content"],
                        answer_b=current["history_b"][-1]["content"], settings=current["settings"])
            current = {**current, "voted": True}
            return current, names_line(current), vote_rows(store)
        return cast

    inputs = [message, first, second, blind, state, *settings.inputs]
    gr.on([send.click, message.submit], answer, inputs, [bot_a, bot_b, state, names, message])
    for winner, button in votes.items():
        button.click(vote(winner), state, [state, names, table])
    for trigger in (clear.click, bot_a.clear, bot_b.clear):  # the chatbots' own trash buttons clear both sides
        trigger(lambda: ([], [], {}, ""), None, [bot_a, bot_b, state, names])

    def refresh():
        names_now = model_choices(store)
        return gr.update(choices=names_now), gr.update(choices=names_now), vote_rows(store)

    tab.select(as_message(refresh), None, [first, second, table], show_progress="hidden")
