"""The Train tab: the run form, presets, YAML preview/load/save, validation beside fields, and Start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import yaml

from core.cli import PRESETS
from core.config import RunConfig, dump_config, load_config, parse_config, save_config
from core.errors import ConfigError
from jobs.scheduler import start_detached
from jobs.store import JobStore
from studio.form import GROUPS, RunForm
from studio.i18n import T
from studio.messages import as_message
from studio.uploads import add_uploads, config_file

PRESET_NAMES = {"bailong-pretrain": "Bailong pre-training", "bailong-sft": "Bailong SFT"}


def presets() -> dict[str, RunConfig]:
    return {PRESET_NAMES.get(p.stem, p.stem): load_config(p) for p in sorted(PRESETS.glob("*.yaml"))}


@dataclass
class TrainTab:
    form: RunForm
    status: gr.Markdown


def build_train(store: JobStore) -> TrainTab:
    workspace = store.workspace
    shipped = presets()
    first = next(iter(shipped))
    with gr.Row():
        preset = gr.Dropdown(list(shipped), value=first, label=T("preset"), scale=2)
        load = gr.UploadButton(T("load_yaml"), file_types=[".yaml", ".yml"], scale=1)
        save = gr.Button(T("save_yaml"), scale=1)
        start = gr.Button(T("start"), variant="primary", elem_id="start-button", scale=1)
    with gr.Row():
        status = gr.Markdown("✅ valid", elem_id="train-status")
        saved = gr.File(label=T("save_yaml"), visible=False, interactive=False)
    with gr.Row():
        with gr.Column(scale=3):
            form = RunForm({g: T(f"group.{g}") for g in GROUPS}, shipped[first])
            upload = gr.File(label=T("upload_data"), file_count="multiple", file_types=[".txt", ".jsonl", ".json", ".csv", ".parquet"])
        with gr.Column(scale=2):
            preview = gr.Code(dump_config(shipped[first]), language="yaml", label=T("yaml_preview"), interactive=False,
                              elem_id="yaml-preview")

    conditional = [f for f in form.fields if f.show_if]
    data_train = form.field[("data", "train")]

    def refresh(*values):
        config, messages = form.validate(list(values))
        data = form.raw_config(list(values))
        text = dump_config(config) if config else yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        errors = [gr.update(value="\n".join(f"⚠️ {m}" for m in messages.get(f.dotted, [])), visible=f.dotted in messages)
                  for f in form.fields]
        shown = [gr.update(visible=form.visible(data, f)) for f in conditional]
        general = messages.get("", [])
        verdict = ("❌ " + "; ".join(general)) if general else ("✅ valid" if config else "❌ fix the fields marked ⚠️")
        return [text, verdict, *errors, *shown]

    refresh_outputs = [preview, status, *[f.error for f in form.fields], *[f.box for f in conditional]]
    gr.on([w.change for w in form.widgets], refresh, inputs=form.widgets, outputs=refresh_outputs, show_progress="hidden")

    @as_message
    def choose_preset(name):
        return form.values_for(shipped[name])

    preset.change(choose_preset, preset, form.widgets)

    @as_message
    def load_yaml(file):
        path = Path(file if isinstance(file, str) else file.name)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path.name}: not valid YAML ({str(error).splitlines()[0]})") from None
        return form.values_for(parse_config(data))

    load.upload(load_yaml, load, form.widgets)

    @as_message
    def save_yaml(*values):
        config = form.config_or_error(list(values))
        target = config_file(workspace, config.name)
        save_config(config, target)
        return gr.update(value=str(target), visible=True)

    save.click(save_yaml, form.widgets, saved)

    @as_message
    def add_files(files, current):
        return add_uploads(workspace, files, current)

    upload.upload(add_files, [upload, data_train.widget], data_train.widget)

    @as_message
    def submit(*values):
        config = form.config_or_error(list(values))
        job = store.submit(config)
        start_detached(workspace)
        return f"✅ queued job {job.id} ({job.name}); watch it in the Jobs tab"

    start.click(submit, form.widgets, status)

    return TrainTab(form, status)


def config_values(form: RunForm, config_dict: dict) -> list:
    """Widget values for a stored job config (Clone config)."""
    return form.values_for(parse_config(config_dict))



