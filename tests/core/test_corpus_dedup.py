import random

import numpy as np
import pytest

from core.datafiles import SAMPLES
from core.dedup import NUM_PERM, ExactDeduper, near_duplicates, signatures


@pytest.fixture(scope="module")
def distinct():
    lines = [line for line in SAMPLES["tc_corpus"].read_text(encoding="utf-8").splitlines() if len(line) > 60]
    assert len(lines) > 100
    return lines


def _edit(text: str, rng: random.Random, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        i = rng.randrange(len(chars))
        op = rng.choice("sid")
        if op == "s":
            chars[i] = rng.choice("的了是在我有他這個們")
        elif op == "i":
            chars.insert(i, rng.choice("，。啊呢"))
        elif len(chars) > 10:
            del chars[i]
    return "".join(chars)


def test_planted_near_duplicates_are_removed_and_distinct_rows_kept(distinct):
    rng = random.Random(7)
    pairs = [(text, _edit(text, rng, 2)) for text in distinct[:40]]
    pairs += [(text, text + "（轉載）") for text in distinct[40:50]]  # boilerplate suffix
    docs = list(distinct)
    for _, dup in pairs:  # scattered, not appended: the earlier copy of a pair is the one kept
        docs.insert(rng.randrange(len(docs) + 1), dup)
    dropped = near_duplicates(signatures(docs), threshold=0.7)
    where = {d: i for i, d in enumerate(docs)}
    earlier = [min(where[a], where[b]) for a, b in pairs]
    later = [max(where[a], where[b]) for a, b in pairs]
    assert not dropped[earlier].any()
    assert dropped[later].mean() >= 0.9, dropped[later].mean()  # measured: 1.0
    assert not dropped[[where[d] for d in distinct[50:]]].any()  # rows without a planted twin all stay


def test_distinct_documents_are_not_merged(distinct):
    sigs = signatures(distinct)
    assert sigs.shape == (len(distinct), NUM_PERM) and sigs.dtype == np.uint32
    assert not near_duplicates(sigs, threshold=0.5).any()


def test_signatures_are_stable_and_estimate_similarity(distinct):
    a = distinct[0]
    again = signatures([a, a + a[:5]])
    assert np.array_equal(signatures([a])[0], again[0])  # same text, same signature, any batch
    assert (again[0] == again[1]).mean() > 0.8
    short = signatures(["你好", "你好", "再見", ""])
    assert (short[0] == short[1]).all() and (short[0] != short[2]).all()


def test_exact_dedup_folds_whitespace_only():
    dedup = ExactDeduper()
    assert [dedup.seen(t) for t in ["臺灣 好", "臺灣  好 ", "臺灣好", "臺灣 好"]] == [False, True, False, True]


def test_a_bucket_of_many_repeats_is_linked_transitively():
    docs = ["同一句話重複很多次，只改最後一個字" + c for c in "甲乙丙丁戊己庚辛壬癸"] * 50
    dropped = near_duplicates(signatures(docs), threshold=0.7)
    assert not dropped[0] and dropped[1:].all()
