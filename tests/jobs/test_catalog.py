"""The model catalog over a real job database: base models, succeeded jobs and their checkpoints, one-line
errors for unknown names and deleted outputs, and a trained adapter really changing the answer."""

import shutil

import pytest

from core.config import parse_config
from core.errors import ModelError
from core.inference import GenerationSettings, load_engine
from core.model_cache import ModelCache
from core.train import train
from jobs.catalog import add_model, list_models, remove_model, resolve_model_spec
from jobs.models import Status
from jobs.store import JobStore
from jobs.votes import pair_table, record_vote
from tests.jobs.conftest import tiny_run


def finished_job(store: JobStore, config_data: dict, status: Status = Status.succeeded):
    """A job taken through the store the way the worker takes it: submit, claim, train, finish."""
    config = parse_config(config_data)
    job = store.submit(config)
    assert store.claim(job.id)
    train(config, store.workspace)
    store.finish(job.id, status)
    return store.get(job.id)


@pytest.fixture
def store(home):
    store = JobStore(home)
    yield store
    store.close()


def test_trained_jobs_and_their_checkpoints_are_listed_and_change_the_answer(store, tiny_model_dir):
    # A high learning rate on a few steps moves the untrained tiny model's greedy answer for sure.
    config = tiny_run(tiny_model_dir, "taught", steps=3, save_steps=2)
    config["train"]["lr"] = 5e-2
    job = finished_job(store, config)
    failed = finished_job(store, tiny_run(tiny_model_dir, "broken", steps=1), Status.failed)

    names = [spec.name for spec in list_models(store)]
    assert names[0] == "default" and str(tiny_model_dir) in names
    assert "job:taught" in names and "job:taught@step-2" in names
    assert not any(n.startswith("job:broken") for n in names) and failed.status == "failed"

    spec = resolve_model_spec(store, "job:taught")
    assert spec.base_model == str(tiny_model_dir) and spec.adapter_dir.endswith("taught/adapter")
    assert spec.lineage["job_id"] == job.id and spec.lineage["data_files"]
    checkpoint = resolve_model_spec(store, "job:taught@step-2")
    assert checkpoint.checkpoint.endswith("step-000002") and checkpoint.lineage["step"] == 2

    cache = ModelCache()
    greedy = GenerationSettings(temperature=0, max_new_tokens=8)
    question = [{"role": "user", "content": "你好"}]
    base = load_engine(resolve_model_spec(store, str(tiny_model_dir)), store.workspace, cache=cache).generate(question, greedy)
    trained = load_engine(spec, store.workspace, cache=cache).generate(question, greedy)
    assert trained.text != base.text
    assert load_engine(checkpoint, store.workspace, cache=cache).generate(question, greedy).completion_tokens > 0
    assert len(cache.keys()) == 3

    with pytest.raises(ModelError, match=r"job 1 has no checkpoint at step 7 \(kept: step-2\)"):
        resolve_model_spec(store, "job:taught@step-7")
    shutil.rmtree(store.workspace.runs / "taught")
    with pytest.raises(ModelError, match="the output of job 1 .* was deleted") as caught:
        resolve_model_spec(store, "job:taught")
    assert "\n" not in str(caught.value)
    assert "job:taught" not in [spec.name for spec in list_models(store)]


def test_unknown_names_are_one_line_errors(store):
    for name, message in [("job:nobody", "no succeeded training job named 'nobody'"),
                          ("./not-a-folder", "neither 'default', an existing model folder, nor a hub id"),
                          ("job:@", "is not a model name")]:
        with pytest.raises(ModelError, match=message) as caught:
            resolve_model_spec(store, name)
        assert "\n" not in str(caught.value)


def test_added_models_are_remembered(store, tiny_model_dir, tmp_path):
    spec = add_model(store, str(tiny_model_dir))
    assert spec.lineage["kind"] == "folder"
    assert str(tiny_model_dir) in [s.name for s in list_models(store)]
    with pytest.raises(ModelError, match="has no config.json"):
        add_model(store, str(tmp_path))
    remove_model(store, str(tiny_model_dir))
    assert str(tiny_model_dir) not in [s.name for s in list_models(store)]


def test_votes_add_up_per_model_pair(store):
    conversation = [{"role": "user", "content": "hi"}]
    for a, b, winner in [("m1", "m2", "a"), ("m2", "m1", "a"), ("m1", "m2", "tie"), ("m1", "m2", "b"), ("m1", "m3", "both_bad")]:
        record_vote(store, model_a=a, model_b=b, winner=winner, conversation=conversation, answer_a="x", answer_b="y")
    rows = {(r.first, r.second): r for r in pair_table(store)}
    assert (rows["m1", "m2"].first_wins, rows["m1", "m2"].second_wins, rows["m1", "m2"].ties) == (1, 2, 1)
    assert rows["m1", "m3"].both_bad == 1 and rows["m1", "m3"].total == 1


def test_export_merges_the_adapter_into_a_plain_model_folder(store, tiny_model_dir, tmp_path):
    import subprocess
    import sys

    import torch
    from transformers import AutoModelForCausalLM

    from core.export import merged_model
    from core.inference import load_model
    from tests.jobs.conftest import REPO

    # LoRA on the tied embeddings and head too: the merge must keep the two deltas apart.
    config = tiny_run(tiny_model_dir, "export-me", steps=2)
    config["lora"]["embeddings"] = True
    config["train"]["lr"] = 5e-2
    finished_job(store, config)
    spec = resolve_model_spec(store, "job:export-me")
    out = tmp_path / "merged"
    done = subprocess.run([sys.executable, "-m", "core.cli", "export", "job:export-me", "--out", str(out), "--json",
                           "--home", str(store.workspace.root)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "README.md"):
        assert (out / name).is_file(), name
    assert "job:export-me" in (out / "README.md").read_text()

    ids = torch.tensor([[1, 2683, 359, 253, 5356, 5646]])
    adapted, _ = load_model(spec, store.workspace)
    plain = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(input_ids=ids).logits, adapted(input_ids=ids).logits, rtol=1e-4, atol=1e-4)
    assert not plain.config.tie_word_embeddings
    assert merged_model(resolve_model_spec(store, str(tiny_model_dir)), store.workspace)[0].config.tie_word_embeddings

    again = subprocess.run([sys.executable, "-m", "core.cli", "export", "job:export-me", "--out", str(out),
                            "--home", str(store.workspace.root)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and again.stderr.strip() == f"error: --out {out} already exists and is not empty; choose a new folder"
