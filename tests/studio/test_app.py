"""The studio without a browser: no torch at start-up, the form is the config, names are sanitised."""

from __future__ import annotations

import subprocess
import sys

import gradio as gr
import pytest

from core.config import RunConfig, parse_config
from core.errors import DataError
from studio.form import GROUPS, RunForm
from studio.train_tab import presets
from studio.uploads import safe_name, store_upload
from tests.jobs.conftest import REPO


def test_building_the_studio_does_not_import_torch(home):
    code = ("import sys; from studio.app import build_app; build_app(sys.argv[1]); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code, str(home.root)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def make_form(initial: RunConfig) -> RunForm:
    with gr.Blocks():
        return RunForm({g: g for g in GROUPS}, initial)


@pytest.mark.parametrize("name", ["Bailong pre-training", "Bailong SFT"])
def test_the_form_round_trips_each_preset(name):
    preset = presets()[name]
    form = make_form(RunConfig())
    assert {f.group for f in form.fields} == set(GROUPS)
    config, messages = form.validate(form.values_for(preset))
    assert messages == {} and config == preset


def test_the_form_keeps_the_vocabulary_section():
    """Regression: the form once had no vocab group, so a loaded YAML lost its vocab settings on Start."""
    extended = parse_config({"name": "zt", "vocab": {"learn_from": ["corpus:news"], "new_tokens": 5000, "init": "mean",
                                                     "warmup_steps": 20}})
    form = make_form(RunConfig())
    config, messages = form.validate(form.values_for(extended))
    assert messages == {} and config == extended and config.vocab.enabled


def test_validation_messages_land_on_the_field_they_name():
    form = make_form(RunConfig())
    values = form.values_for(RunConfig())
    values[[f.dotted for f in form.fields].index("data.seq_len")] = 8
    values[[f.dotted for f in form.fields].index("train.epochs")] = "not a number"
    config, messages = form.validate(values)
    assert config is None
    assert "greater than or equal to 16" in messages["data.seq_len"][0]
    assert messages["train.epochs"][0].startswith("train.epochs:")


def test_show_if_rules_follow_the_config():
    form = make_form(RunConfig())
    template = form.field[("data", "template")]
    double_quant = form.field[("quant", "double_quant")]
    pretrain = form.raw_config(form.values_for(RunConfig()))
    sft = form.raw_config(form.values_for(parse_config({"stage": "sft", "quant": {"bits": "none"}})))
    assert not form.visible(pretrain, template) and form.visible(sft, template)
    assert form.visible(pretrain, double_quant) and not form.visible(sft, double_quant)


def test_uploaded_names_are_sanitised_and_stay_in_the_workspace(home, tmp_path):
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\\\Users\\\\x\\\\my data.txt") == "my_data.txt"
    assert safe_name("台灣 語料.jsonl") == "台灣_語料.jsonl"
    with pytest.raises(DataError):
        safe_name("..")
    source = tmp_path / "upload.txt"
    source.write_text("一二三")
    first = store_upload(home, source, "../../evil name.txt")
    second = store_upload(home, source, "../../evil name.txt")
    assert first.parent == second.parent == home.corpora / "uploads"
    assert (first.name, second.name) == ("evil_name.txt", "evil_name-1.txt")


def test_a_non_local_host_needs_auth(home):
    result = subprocess.run([sys.executable, "-m", "core.cli", "studio", "--host", "0.0.0.0", "--home", str(home.root)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2 and "--auth user:password" in result.stderr
