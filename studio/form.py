"""The Train form, generated from ``RunConfig``: one widget per field, bound to the field itself.

Each leaf field of the config becomes a ``BoundField`` that knows its path, its widget and how to convert
between the widget's value and the field's value, chosen from the field's type (bool → checkbox,
Literal → dropdown, numbers → number box, lists → one entry per line). Groups and show-if rules come
from the field's own metadata (``json_schema_extra``); validation is ``core.config``'s, and its messages
are shown beside the field they name.
"""

from __future__ import annotations

import ast
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal, Union

import gradio as gr
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from core.config import RunConfig, format_errors
from core.errors import ConfigError

GROUPS = ("run", "model", "data", "vocab", "quant", "lora", "train")
_SHOW_IF = re.compile(r"^\s*(\w+)\s*==\s*(.+?)\s*$")


def _literal_values(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    return []


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return typing.get_args(annotation)
    return ()


@dataclass
class BoundField:
    path: tuple[str, ...]
    info: FieldInfo
    widget: gr.components.Component
    to_widget: Callable[[Any], Any]
    from_widget: Callable[[Any], Any]
    error: gr.Markdown
    box: gr.Column

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def group(self) -> str:
        extra = self.info.json_schema_extra or {}
        return extra.get("group", "run") if isinstance(extra, dict) else "run"

    @property
    def show_if(self) -> str | None:
        extra = self.info.json_schema_extra or {}
        return extra.get("show_if") if isinstance(extra, dict) else None


def _make_widget(path: tuple[str, ...], info: FieldInfo, value: Any) -> tuple[gr.components.Component, Callable, Callable]:
    """A widget for the field's type, holding ``value``, plus converters to and from the config value."""
    annotation, label, help_text = info.annotation, ".".join(path), info.description or ""
    args = _union_args(annotation)
    literals = _literal_values(annotation)
    if annotation is bool:
        return gr.Checkbox(value=bool(value), label=label, info=help_text), bool, bool
    if literals:
        return gr.Dropdown([str(v) for v in literals], value=str(value), label=label, info=help_text), str, lambda v: v
    if args and bool in args:  # e.g. grad_checkpointing: true | false | 'auto'
        choices = [str(v) for a in args for v in _literal_values(a)] + ["true", "false"]
        to_widget = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
        return (gr.Dropdown(choices, value=to_widget(value), label=label, info=help_text), to_widget,
                lambda v: {"true": True, "false": False}.get(v, v))
    if args and any(typing.get_origin(a) is list for a in args):  # e.g. lora.targets: 'all-linear' | [names]
        keywords = [str(v) for a in args for v in _literal_values(a)]
        to_widget = lambda v: v if isinstance(v, str) else ", ".join(v)  # noqa: E731
        return (gr.Textbox(value=to_widget(value), label=label, info=help_text + " (comma-separated)"), to_widget,
                lambda v: (v or "").strip() if (v or "").strip() in keywords else [p.strip() for p in (v or "").split(",") if p.strip()])
    numeric = [a for a in (args or (annotation,)) if a in (int, float)]
    if numeric and type(None) in args:
        # A number box cannot be empty (it sends 0), and "not set" must stay distinguishable from 0.
        to_widget = lambda v: "" if v is None else str(v)  # noqa: E731
        return (gr.Textbox(value=to_widget(value), label=label, info=help_text + " (empty = not set)"), to_widget,
                lambda v: (str(v).strip() or None) if v is not None else None)
    if numeric:
        widget = gr.Number(value=value, label=label, info=help_text, precision=0 if numeric[0] is int else None)
        return widget, (lambda v: v), (lambda v: v)
    if typing.get_origin(annotation) is list:
        to_widget = lambda v: "\n".join(v)  # noqa: E731
        return (gr.Textbox(value=to_widget(value), label=label, info=help_text + " (one per line)", lines=2), to_widget,
                lambda v: [line.strip() for line in (v or "").splitlines() if line.strip()])
    optional = type(None) in args
    to_widget = lambda v: "" if v is None else str(v)  # noqa: E731
    from_widget = (lambda v: (v or "").strip() or None) if optional else (lambda v: v or "")
    return gr.Textbox(value=to_widget(value), label=label, info=help_text), to_widget, from_widget


def element_id(path: tuple[str, ...]) -> str:
    return "field-" + "-".join(path)


def _leaf_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], FieldInfo]]:
    out = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _leaf_fields(annotation, prefix + (name,))
        else:
            out.append((prefix + (name,), info))
    return out


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


class RunForm:
    """All bound fields of the Train form, laid out by group, with the helpers callbacks need."""

    def __init__(self, group_labels: dict[str, Any], initial: RunConfig) -> None:
        leaves = _leaf_fields(RunConfig)
        start = initial.model_dump(mode="json")
        self.fields: list[BoundField] = []
        for group in GROUPS:
            with gr.Accordion(group_labels[group], open=group in ("run", "model", "data")):
                for path, info in leaves:
                    if (info.json_schema_extra or {}).get("group", "run") != group:
                        continue
                    with gr.Column(min_width=200) as box:
                        widget, to_widget, from_widget = _make_widget(path, info, _get(start, path))
                        widget.elem_id = element_id(path)  # stable hooks for the browser test and custom CSS
                        error = gr.Markdown(visible=False, elem_classes=["field-error"])
                    self.fields.append(BoundField(path, info, widget, to_widget, from_widget, error, box))

    @property
    def widgets(self) -> list[gr.components.Component]:
        return [f.widget for f in self.fields]

    @property
    def field(self) -> dict[tuple[str, ...], BoundField]:
        return {f.path: f for f in self.fields}

    def values_for(self, config: RunConfig | dict[str, Any]) -> list[Any]:
        data = config.model_dump(mode="json") if isinstance(config, RunConfig) else config
        return [f.to_widget(_get(data, f.path)) for f in self.fields]

    def raw_config(self, values: list[Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f, value in zip(self.fields, values):
            _set(data, f.path, f.from_widget(value))
        return data

    def validate(self, values: list[Any]) -> tuple[RunConfig | None, dict[str, list[str]]]:
        """The config, or the messages per field path (dotted) from core's validation."""
        data = self.raw_config(values)
        try:
            return RunConfig.model_validate(data), {}
        except ValidationError as error:
            messages: dict[str, list[str]] = {}
            known = sorted((f.dotted for f in self.fields), key=len, reverse=True)
            for line in format_errors(error):
                where = line.split(":", 1)[0]
                target = next((k for k in known if where == k or where.startswith(k + ".")), "")
                messages.setdefault(target, []).append(line)
            return None, messages

    def visible(self, data: dict[str, Any], f: BoundField) -> bool:
        """Evaluate a show-if rule such as ``bits == 4`` against the section first, then the top level."""
        match = _SHOW_IF.match(f.show_if or "")
        if not match:
            return True
        name, expected = match.group(1), ast.literal_eval(match.group(2))
        section = _get(data, f.path[:-1]) if len(f.path) > 1 else data
        value = section.get(name, data.get(name))
        return str(value) == str(expected)

    def config_or_error(self, values: list[Any]) -> RunConfig:
        config, messages = self.validate(values)
        if config is None:
            raise ConfigError("; ".join(line for lines in messages.values() for line in lines))
        return config
