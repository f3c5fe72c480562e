import json

import pytest

from core.datafiles import SAMPLES, decode_bytes, read_examples, resolve_data_path
from core.errors import DataError

TC = "今天天氣很好，我們一起去臺北的夜市吃小吃，順便買些水果回家。"


def write(path, content, encoding="utf-8"):
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def test_txt_one_document_per_line_or_per_paragraph(tmp_path):
    assert read_examples(write(tmp_path / "a.txt", "第一行\n第二行\n\n")) == [{"text": "第一行"}, {"text": "第二行"}]
    paras = read_examples(write(tmp_path / "b.txt", "第一段\n續行\n\n第二段\n"))
    assert paras == [{"text": "第一段\n續行"}, {"text": "第二段"}]


@pytest.mark.parametrize(
    "record, expected",
    [
        ({"text": TC}, {"text": TC}),
        ({"instruction": "翻譯", "input": "hello", "output": "你好"},
         {"messages": [{"role": "user", "content": "翻譯\n\nhello"}, {"role": "assistant", "content": "你好"}]}),
        ({"conversations": [{"from": "human", "value": "嗨"}, {"from": "gpt", "value": "你好！"}]},
         {"messages": [{"role": "user", "content": "嗨"}, {"role": "assistant", "content": "你好！"}]}),
        ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
         {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}),
    ],
    ids=["text", "alpaca", "sharegpt", "messages"],
)
def test_jsonl_formats_are_detected_and_normalised(tmp_path, record, expected):
    path = write(tmp_path / "d.jsonl", json.dumps(record, ensure_ascii=False) + "\n")
    assert read_examples(path) == [expected]
    array = write(tmp_path / "d.json", json.dumps([record, record], ensure_ascii=False))
    assert read_examples(array) == [expected, expected]


def test_csv_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert read_examples(write(tmp_path / "d.csv", f"text\n{TC}\n")) == [{"text": TC}]
    pq.write_table(pa.table({"text": [TC, "second"]}), tmp_path / "d.parquet")
    assert read_examples(tmp_path / "d.parquet") == [{"text": TC}, {"text": "second"}]


def test_malformed_jsonl_line_is_reported_with_file_and_line(tmp_path):
    path = write(tmp_path / "bad.jsonl", '{"text": "ok"}\n\n{"text": broken}\n')
    with pytest.raises(DataError, match=r"bad.jsonl: line 3: invalid JSON"):
        read_examples(path)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.txt", "  \n", "file is empty"),
        ("data.docx", "x", "unknown file type '.docx'"),
        ("bin.txt", b"\x00\x01\x02binary", "binary"),
        ("weird.jsonl", '{"foo": 1}\n', "cannot tell the record format"),
        ("turns.jsonl", '{"messages": [{"role": "robot", "content": "x"}]}\n', "line 1: turn needs"),
    ],
)
def test_bad_files_get_one_line_errors(tmp_path, name, content, message):
    with pytest.raises(DataError, match=message) as caught:
        read_examples(write(tmp_path / name, content))
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_examples(tmp_path / "missing.txt")


@pytest.mark.parametrize("encoding, label", [("utf-16", "UTF-16"), ("big5", "big5"), ("gb18030", "gb18030")])
def test_legacy_encodings_decode_with_a_warning(encoding, label):
    text = TC if encoding != "gb18030" else "今天天气很好，我们一起去台北的夜市吃小吃，顺便买些水果回家。"
    with pytest.warns(UserWarning, match=label):
        assert decode_bytes(text.encode(encoding), "f.txt") == text


def test_undecodable_bytes_are_refused():
    with pytest.raises(DataError, match="re-save it as UTF-8"):
        decode_bytes(bytes([0xFF, 0xFE - 1, 0x81, 0x30, 0xFF, 0xFF]) * 10, "f.txt")


def test_bundled_samples_resolve_and_read():
    assert len(read_examples(resolve_data_path("sample:tc_corpus"))) > 50
    conversations = read_examples(SAMPLES["conversations"])
    assert len(conversations) >= 50 and all("messages" in c for c in conversations)
    with pytest.raises(DataError, match="bundled samples"):
        resolve_data_path("sample:nope")


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    assert resolve_data_path("corpus.txt", tmp_path) == tmp_path / "corpus.txt"
