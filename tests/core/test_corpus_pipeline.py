import json

import opencc
import pytest

from core import corpus_store
from core.corpus_build import build_corpus, preview
from core.corpus_clean import Cleaner, Pipeline, clean_whitespace, normalise_text, scrub
from core.corpus_stats import char_diff
from core.datafiles import SAMPLES, load_training_examples
from core.errors import DataError
from core.script_detect import simplified_only
from core.workspace import Workspace


@pytest.fixture(scope="module")
def tc_lines():
    return [line for line in SAMPLES["tc_corpus"].read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sc_lines(tc_lines):
    t2s = opencc.OpenCC("t2s")
    return [t2s.convert(line) for line in tc_lines]


def test_normalisation_keeps_full_width_punctuation():
    text = "你好，世界！（測試）「引號」：ＡＢＣ１２３\u200b\ufeff\x07ｶﾀｶﾅ\r\n下一行"
    assert normalise_text(text) == "你好，世界！（測試）「引號」：ABC123カタカナ\n下一行"
    assert normalise_text("e\u0301") == "é"


def test_whitespace_cleanup():
    assert clean_whitespace("  我 們\t是   朋友  \n\n\n\n\u3000\u3000新段落 hello   world ") == "我們是朋友\n\n新段落 hello world"


def test_scrubbing_emails_and_phones_leaves_numbers_alone():
    text = "寫信到 amy.lin@example.com.tw 或撥 02-2345-6789、0912345678、+886 2 2345 6789；2024 年有 12345 人。"
    assert scrub(text) == "寫信到 <email> 或撥 <phone>、<phone>、<phone>；2024 年有 12345 人。"


@pytest.mark.parametrize("convert", ["s2twp", "s2t"])
def test_simplified_input_comes_out_with_no_simplified_only_characters(sc_lines, convert):
    assert any(simplified_only(line) for line in sc_lines)
    cleaned = Cleaner(Pipeline(convert=convert)).clean_batch([{"text": line} for line in sc_lines])
    assert all(c is not None and simplified_only(c["text"]) == [] for c in cleaned)


def test_conversations_keep_their_structure():
    convo = {"messages": [{"role": "system", "content": "你是助理"}, {"role": "user", "content": "鼠标 坏了 怎么办？"},
                          {"role": "assistant", "content": "请换一个新的鼠标。"}]}
    [out] = Cleaner(Pipeline()).clean_batch([convo])
    assert [m["role"] for m in out["messages"]] == ["system", "user", "assistant"]
    assert out["messages"][1]["content"] == "滑鼠壞了怎麼辦？"
    assert out["messages"][2]["content"] == "請換一個新的滑鼠。"


def test_filters_drop_and_count():
    cleaner = Cleaner(Pipeline(convert="none", min_chars=5, max_chars=40, drop_simplified=True))
    rows = [{"text": "短"}, {"text": "長" * 50}, {"text": "これは日本語の文章です。"}, {"text": "这是简体中文的句子。"},
            {"text": "這是繁體中文的句子。"}, {"text": "   "}, {"text": "An English sentence."}]
    out = cleaner.clean_batch(rows)
    assert [o is not None for o in out] == [False, False, False, False, True, False, True]
    assert cleaner.counts["dropped_too_short"] == 1 and cleaner.counts["dropped_too_long"] == 1
    assert cleaner.counts["dropped_other_language"] == 1 and cleaner.counts["dropped_simplified"] == 1
    assert cleaner.counts["dropped_empty"] == 1 and cleaner.counts["simplified_flagged"] == 1


def test_pipeline_refuses_bad_settings_in_one_line():
    with pytest.raises(DataError, match="pipeline.convert"):
        Pipeline.parse({"convert": "t2s"})
    with pytest.raises(DataError, match="pipeline.typo"):
        Pipeline.parse({"typo": 1})


def test_build_registers_folder_and_training_reads_corpus_ref(tmp_path, sc_lines):
    src = tmp_path / "sc.txt"
    src.write_text("\n".join(sc_lines + sc_lines[:3]), encoding="utf-8")
    ws = Workspace(tmp_path / "home").ensure()
    manifest = build_corpus([src], "news", ws.corpora, {"dedup": "exact"})
    assert manifest["rows"] == len(sc_lines) and manifest["counts"]["dropped_exact_duplicate"] == 3
    assert manifest["pipeline"]["convert"] == "s2twp" and manifest["source_files"][0]["records"] == len(sc_lines) + 3
    assert manifest["stats"]["sc_leak_rate"] == 0.0 and manifest["stats"]["chinese_share"] > 0.95
    assert manifest["chars"] == sum(len(e["text"]) for e in corpus_store.iter_examples(ws.corpora, "news"))
    assert manifest["sha256"] == corpus_store.file_digest(ws.corpora / "news" / "data.parquet")
    assert [p.name for p in ws.corpora.iterdir()] == ["news"]  # no staging folder left

    examples, paths = load_training_examples(["corpus:news", "sample:tc_corpus"], "auto", None, ws)
    assert len(examples) == manifest["rows"] + len(load_training_examples(["sample:tc_corpus"], "auto", None)[0])
    assert all(simplified_only(e["text"]) == [] for e in examples[: manifest["rows"]])
    with pytest.raises(DataError, match="no corpus 'missing'.*corpora: news"):
        load_training_examples(["corpus:missing"], "auto", None, ws)
    with pytest.raises(DataError, match="already exists"):
        build_corpus([src], "news", ws.corpora)


def test_conversation_corpus_round_trips_through_training_loader(tmp_path):
    ws = Workspace(tmp_path / "home").ensure()
    manifest = build_corpus([SAMPLES["conversations"]], "chat", ws.corpora, {"convert": "none"})
    assert manifest["kind"] == "conversations"
    examples, _ = load_training_examples(["corpus:chat"], "auto", None, ws)
    original, _ = load_training_examples(["sample:conversations"], "auto", None)
    assert [[m["role"] for m in e["messages"]] for e in examples] == [[m["role"] for m in e["messages"]] for e in original]


def test_mixed_kinds_and_empty_results_publish_nothing(tmp_path):
    root = tmp_path / "corpora"
    text = tmp_path / "t.txt"
    text.write_text("臺灣的天氣很好。\n", encoding="utf-8")
    with pytest.raises(DataError, match="mix plain text and conversations"):
        build_corpus([text, SAMPLES["conversations"]], "mixed", root)
    with pytest.raises(DataError, match="nothing left after cleaning 1 rows .*too_short: 1"):
        build_corpus([text], "tiny", root, {"min_chars": 100})
    with pytest.raises(DataError, match="corpus name"):
        build_corpus([text], "../escape", root)
    assert list(root.iterdir()) == []


def test_cancel_leaves_nothing(tmp_path, tc_lines):
    src = tmp_path / "a.txt"
    src.write_text("\n".join(tc_lines * 10), encoding="utf-8")
    root = tmp_path / "corpora"
    assert build_corpus([src], "stopped", root, should_stop=lambda: True) is None
    assert list(root.iterdir()) == []


def test_rename_delete_export(tmp_path, tc_lines):
    root = tmp_path / "corpora"
    src = tmp_path / "a.txt"
    src.write_text("\n\n".join(tc_lines[:10]), encoding="utf-8")
    build_corpus([src], "a", root, {"convert": "none"})
    corpus_store.rename_corpus(root, "a", "b")
    assert [m["name"] for m in corpus_store.list_corpora(root)] == ["b"]
    assert corpus_store.export_corpus(root, "b", tmp_path / "out.jsonl") == 10
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows == [{"text": t} for t in tc_lines[:10]]
    corpus_store.export_corpus(root, "b", tmp_path / "out.txt")
    build_corpus([tmp_path / "out.txt"], "c", root, {"dedup": "none", "convert": "none"})
    assert [e["text"] for e in corpus_store.iter_examples(root, "c")] == tc_lines[:10]
    corpus_store.delete_corpus(root, "b")
    assert [m["name"] for m in corpus_store.list_corpora(root)] == ["c"]
    with pytest.raises(DataError, match="no corpus 'b'"):
        corpus_store.delete_corpus(root, "b")


def test_preview_shows_before_and_after(tmp_path, sc_lines):
    src = tmp_path / "a.txt"
    src.write_text("\n".join(sc_lines), encoding="utf-8")
    shown = preview([src], {"dedup": "near"}, limit=20)
    assert len(shown["rows"]) == 20 and shown["counts"]["input_rows"] == 20
    first = shown["rows"][0]
    assert simplified_only(first["before"]) and not simplified_only(first["after"])
    assert shown["stats"]["documents"] == 20
    segments = char_diff(first["before"], first["after"])
    assert "".join(s for s, tag in segments if tag != "-") == first["after"]
    assert "".join(s for s, tag in segments if tag != "+") == first["before"]
