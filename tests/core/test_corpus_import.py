import io
import json
import zipfile
from contextlib import ExitStack

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core import corpus_import
from core.corpus_build import build_corpus
from core.corpus_import import SourceReader, expand_sources
from core.errors import DataError

TC = ["今天天氣很好，我們一起去臺北的夜市。", "颱風過後，街道上到處都是樹枝。", "這本書的內容很扎實，值得一讀。"]


def read_all(paths, on_bad="skip"):
    with ExitStack() as stack:
        readers = [SourceReader(s, on_bad) for s in expand_sources(paths, stack)]
        return [e for r in readers for e in r], [r.report for r in readers]


def write(path, content, encoding="utf-8"):
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "big5", "gb18030"])
def test_encodings_are_detected_and_streamed(tmp_path, encoding):
    lines = TC if encoding != "gb18030" else ["今天天气很好，我们一起去台北的夜市。", "这本书的内容很扎实。"]
    examples, [report] = read_all([write(tmp_path / "a.txt", "\n".join(lines) + "\n", encoding)])
    assert examples == [{"text": t} for t in lines]
    assert report.encoding.replace("big5hkscs", "big5") == encoding
    assert report.records == len(lines) and len(report.sha256) == 64


def test_every_format_streams_to_the_two_shapes(tmp_path):
    records = [{"text": TC[0]}, {"instruction": "翻譯", "output": "你好"},
               {"conversations": [{"from": "human", "value": "嗨"}, {"from": "gpt", "value": "你好"}]}]
    paths = []
    for i, record in enumerate(records):
        paths.append(write(tmp_path / f"r{i}.jsonl", json.dumps(record, ensure_ascii=False) + "\n"))
    paths.append(write(tmp_path / "arr.json", json.dumps([records[0]] * 2, ensure_ascii=False)))
    paths.append(write(tmp_path / "t.csv", "text,extra\n" + "".join(f'"{t}",x\n' for t in TC)))
    pq.write_table(pa.Table.from_pylist([{"text": t} for t in TC]), tmp_path / "p.parquet")
    paths.append(tmp_path / "p.parquet")
    examples, reports = read_all(paths)
    assert [r.format for r in reports] == ["text", "alpaca", "sharegpt", "text", "text", "text"]
    assert examples[1] == {"messages": [{"role": "user", "content": "翻譯"}, {"role": "assistant", "content": "你好"}]}
    assert len(examples) == 1 + 1 + 1 + 2 + 3 + 3


def test_paragraph_files_keep_multi_line_documents(tmp_path):
    examples, _ = read_all([write(tmp_path / "p.txt", "第一段\n續行\n\n第二段\n")])
    assert examples == [{"text": "第一段\n續行"}, {"text": "第二段"}]


def test_zip_members_are_read_and_others_ignored(tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docs/a.txt", "\n".join(TC))
        z.writestr("docs/b.jsonl", json.dumps({"text": "第二個檔案"}, ensure_ascii=False))
        z.writestr("docs/readme.md", "# ignored")
        z.writestr("__MACOSX/docs/._a.txt", "junk")
    examples, reports = read_all([archive])
    assert [r.name for r in reports] == ["bundle.zip/docs/a.txt", "bundle.zip/docs/b.jsonl"]
    assert len(examples) == 4


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt"])
def test_zip_with_escaping_paths_is_refused(tmp_path, member):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok.txt", "好")
        z.writestr(member, "壞")
    with pytest.raises(DataError, match="absolute or '..' path"):
        read_all([archive])


def test_zip_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_import, "ZIP_RATIO_FLOOR", 1 << 20)  # a small bomb for a quick test
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.txt", "好" * (2 << 20))
    with pytest.raises(DataError, match="refusing archives over 100x"):
        read_all([archive])


def test_malformed_json_lines_skip_with_count_or_fail(tmp_path):
    path = write(tmp_path / "d.jsonl", "\n".join([json.dumps({"text": "一"}), "{oops", json.dumps({"text": "二"}),
                                                 json.dumps({"text": 3}), ""]))
    examples, [report] = read_all([path], on_bad="skip")
    assert examples == [{"text": "一"}, {"text": "二"}]
    assert (report.skipped, report.skipped_lines) == (2, [2, 4])
    with pytest.raises(DataError, match=r"d.jsonl: line 2: invalid JSON"):
        read_all([path], on_bad="fail")


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", "", "file is empty"),
    ("blank.jsonl", " \n\n", "file is empty"),
    ("bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    ("noise.txt", bytes((i * 37 + 11) % 256 for i in range(5000)).replace(b"\x00", b"\x01"), "re-save it as UTF-8"),
    ("doc.pdf", "x", "unknown file type '.pdf'"),
    ("bad.parquet", "not parquet at all", "not a readable parquet"),
    ("bad.zip", "not a zip", "not a readable zip"),
])
def test_bad_files_get_one_line_errors(tmp_path, name, content, message):
    with pytest.raises(DataError, match=message) as caught:
        read_all([write(tmp_path / name, content)])
    assert "\n" not in str(caught.value)


def test_mixed_encodings_are_refused_with_a_line(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_import, "HEAD_BYTES", 256)  # the Big5 part starts after the sniffed head
    utf8 = ("\n".join(TC * 10) + "\n").encode("utf-8")
    path = write(tmp_path / "mixed.txt", utf8 + "繁體中文的內容\n".encode("big5") * 50)
    with pytest.raises(DataError, match=r"mixed.txt: bytes near line \d+ are not valid utf-8 \(the file mixes encodings"):
        read_all([path])


def test_a_huge_single_line_is_refused_and_nothing_is_half_imported(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_import, "MAX_LINE_CHARS", 10_000)  # the 100 MB case, scaled down
    path = write(tmp_path / "huge.jsonl", json.dumps({"text": TC[0]}, ensure_ascii=False) + "\n"
                 + json.dumps({"text": "長" * 20_000}, ensure_ascii=False) + "\n")
    root = tmp_path / "corpora"
    with pytest.raises(DataError, match="huge.jsonl: line 2 is longer than 10,000 characters"):
        build_corpus([path], "huge", root)
    assert list(root.iterdir()) == []  # the staging folder is gone too


def test_real_100mb_line_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "one_line.txt"
    with path.open("wb") as f:
        block = ("字" * (1 << 20)).encode("utf-8")
        for _ in range(34):  # ~100 MB, no newline
            f.write(block)
    with pytest.raises(DataError, match="line 1 is longer than"):
        read_all([path])


def test_stream_wrapper_hashes_what_it_passes_on():
    import hashlib

    data = "臺灣".encode() * 1000
    seen = []
    meter = corpus_import._Meter(io.BytesIO(data), seen.append)
    assert io.BufferedReader(meter).read() == data
    assert meter.digest.hexdigest() == hashlib.sha256(data).hexdigest() and sum(seen) == len(data)
