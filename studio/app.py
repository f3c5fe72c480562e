"""The studio page. For now one tab shows the run configuration and validates edits; training tabs,
jobs and history arrive with the job system."""

from __future__ import annotations

import gradio as gr

from core.cli import PRESETS
from core.config import parse_config
from core.errors import ConfigError
from core.workspace import resolve_home


def _validate(text: str) -> str:
    import yaml

    try:
        config = parse_config(yaml.safe_load(text) or {})
    except yaml.YAMLError as error:
        return f"❌ not valid YAML: {str(error).splitlines()[0]}"
    except ConfigError as error:
        return "❌ " + str(error).replace("; ", "\n❌ ")
    return f"✅ valid: stage {config.stage}, base model {config.base_model}. Run it with `bailong train FILE.yaml`."


def build_app(home: str | None = None) -> gr.Blocks:
    workspace = resolve_home(home)
    presets = {p.stem: p.read_text(encoding="utf-8") for p in sorted(PRESETS.glob("*.yaml"))}
    with gr.Blocks(title="Bailong Studio") as app:
        gr.Markdown(f"# Bailong Studio\nWorkspace: `{workspace.root}`")
        with gr.Tab("Config"):
            preset = gr.Dropdown(list(presets), value=next(iter(presets)), label="Preset")
            editor = gr.Code(presets[next(iter(presets))], language="yaml", label="Run configuration")
            verdict = gr.Markdown()
            preset.change(lambda name: presets[name], preset, editor)
            editor.change(_validate, editor, verdict)
    return app


def launch(home: str | None, host: str, port: int, inbrowser: bool) -> None:
    build_app(home).launch(server_name=host, server_port=port, inbrowser=inbrowser)
