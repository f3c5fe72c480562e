"""``bailong bench`` refuses bad input with one line and exit status 2, before anything is queued."""

from __future__ import annotations

from jobs import bench_store


def test_bad_input_is_one_line_and_queues_nothing(cli, tmp_path, default_model_dir):
    bad_file = tmp_path / "bench.jsonl"
    bad_file.write_text("{not json\n", encoding="utf-8")
    cases = [
        (["--model", "no-such-model-folder", "--judge", "http://127.0.0.1:9/v1"], "no-such-model-folder"),
        (["--model", "default", "--judge", "http://127.0.0.1:9/v1", "--limit", "0"], "limit: 0"),
        (["--model", "default", "--judge", "http://127.0.0.1:9/v1", "--benchmark", str(bad_file)], "bench.jsonl:1: not valid JSON"),
        (["--model", "default", "--judge", "http://127.0.0.1:9/v1", "--max-new-tokens", "0"], "max_new_tokens"),
    ]
    for args, message in cases:
        result = cli.run("bench", "run", *args, check=False)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    result = cli.run("bench", "compare", "1", check=False)
    assert result.returncode == 2 and "two or more" in result.stderr
    result = cli.run("bench", "show", "7", check=False)
    assert result.returncode == 2 and "no Bailong-bench run 7" in result.stderr
    assert bench_store.list_runs(cli.store) == [] and cli.store.list_jobs() == []
    assert cli.json("bench", "list") == []
