"""Exact and near-duplicate detection for corpora, in bounded memory.

Exact duplicates are caught on the fly by an 8-byte digest of the whitespace-folded text. Near duplicates
use MinHash over character 5-grams (characters, not words, because Chinese has no spaces): each document
gets ``NUM_PERM`` 32-bit minimum hashes (one-permutation hashing, computed with numpy in batches), and locality-sensitive hashing in
``BANDS`` bands proposes candidate pairs that are kept only when the signatures agree on at least the
threshold share of positions (the estimate of their Jaccard similarity). Signatures are 256 bytes per
document, so a corpus of a million documents needs ~256 MB here, and the decision is made after one pass:
the first document of each group of near duplicates is kept.
"""

from __future__ import annotations

import hashlib

import numpy as np

NUM_PERM = 64
BANDS = 16
NGRAM = 5
_BIN_BITS = 6  # 2**6 == NUM_PERM bins
_MAX_BATCH_SHINGLES = 1 << 21  # ~50 MB of temporaries per batch
_rng = np.random.default_rng(20240402)  # fixed: signatures must be identical across runs and processes
_A = (_rng.integers(1, 2**63, 1, dtype=np.uint64) * 2 + 1).astype(np.uint64)  # odd multiplier
_B = _rng.integers(0, 2**63, 1, dtype=np.uint64)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _fold(text: str) -> str:
    """Whitespace runs as one space, ends trimmed (str.split is several times faster than a regex here)."""
    return " ".join(text.split())


def exact_key(text: str) -> bytes:
    return hashlib.blake2b(_fold(text).encode("utf-8"), digest_size=8).digest()


class ExactDeduper:
    """Remembers digests of texts seen so far; ``seen`` is True for a repeat."""

    def __init__(self) -> None:
        self._keys: set[bytes] = set()

    def seen(self, text: str) -> bool:
        key = exact_key(text)
        if key in self._keys:
            return True
        self._keys.add(key)
        return False


def _window_hashes(codes: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit hash of every window of ``n`` code points."""
    count = len(codes) - n + 1
    hashes = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            hashes = (hashes ^ codes[k:k + count]) * _MIX
        return hashes ^ (hashes >> np.uint64(29))


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _batch_shingles(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(shingle hashes, owning text index) for a batch, hashed in one pass over the joined texts."""
    folded = [_fold(t) for t in texts]
    lengths = np.fromiter(map(len, folded), dtype=np.int64, count=len(folded))
    codes = _codes("".join(folded))
    owner = np.repeat(np.arange(len(folded)), lengths)
    if len(codes) >= NGRAM:
        # Windows that start in one text and end in the next are dropped.
        offset = np.arange(len(codes) - NGRAM + 1) - np.repeat(np.cumsum(lengths) - lengths, lengths)[:len(codes) - NGRAM + 1]
        inside = offset <= (lengths[owner[:len(codes) - NGRAM + 1]] - NGRAM)
        hashes, owners = _window_hashes(codes, NGRAM)[inside], owner[:len(codes) - NGRAM + 1][inside]
    else:
        hashes, owners = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    short = np.flatnonzero(lengths < NGRAM)
    if len(short):  # a text shorter than one n-gram is a single shingle of itself
        extra = [_window_hashes(_codes(folded[i]), len(folded[i]))[0] if folded[i] else np.uint64(0) for i in short]
        hashes = np.concatenate([hashes, np.asarray(extra, dtype=np.uint64)])
        owners = np.concatenate([owners, short])
    return hashes, owners


def signatures(texts: list[str]) -> np.ndarray:
    """MinHash signatures, one row of ``NUM_PERM`` uint32 per text.

    One-permutation hashing: every shingle is hashed once and falls into one of ``NUM_PERM`` bins, and
    each bin keeps its minimum, which estimates Jaccard similarity like ``NUM_PERM`` independent
    permutations at 1/``NUM_PERM`` of the cost. Bins a short text leaves empty borrow the next filled
    bin's value ("rotation densification") so that two short texts do not agree on emptiness.
    """
    out = np.empty((len(texts), NUM_PERM), dtype=np.uint32)
    empty = np.uint32(0xFFFFFFFF)
    start = 0
    while start < len(texts):
        end, total = start, 0
        while end < len(texts) and total < _MAX_BATCH_SHINGLES:
            total += len(texts[end]) + 1
            end += 1
        flat, docs = _batch_shingles(texts[start:end])
        with np.errstate(over="ignore"):
            mixed = flat * _A[0] + _B[0]
        bins = (mixed >> np.uint64(64 - _BIN_BITS)).astype(np.int64)
        values = (mixed & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        block = np.full((end - start) * NUM_PERM, empty, dtype=np.uint32)
        np.minimum.at(block, docs * NUM_PERM + bins, values)
        block = block.reshape(end - start, NUM_PERM)
        for _ in range(NUM_PERM - 1):
            holes = block == empty
            if not holes.any():
                break
            block = np.where(holes, np.roll(block, -1, axis=1), block)
        out[start:end] = block
        start = end
    return out


def near_duplicates(sigs: np.ndarray, threshold: float = 0.8, bands: int = BANDS) -> np.ndarray:
    """A boolean mask of rows that near-duplicate an earlier row (the earliest of each group is kept)."""
    n = len(sigs)
    rows = sigs.shape[1] // bands
    pairs = []
    for band in range(bands):
        chunk = np.ascontiguousarray(sigs[:, band * rows:(band + 1) * rows])
        keys = chunk.view(np.dtype((np.void, chunk.dtype.itemsize * rows))).ravel()
        order = np.argsort(keys, kind="stable")  # stable: a bucket lists its documents in corpus order
        sorted_keys = keys[order]
        new_bucket = np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]) if n else np.zeros(0, bool)
        first = order[np.flatnonzero(new_bucket)[np.cumsum(new_bucket) - 1]]  # each document's bucket head
        a, b = first[~new_bucket], order[~new_bucket]
        for at in range(0, len(a), 1 << 16):  # compare in chunks: a bucket of a million repeats stays cheap
            sa, sb = a[at:at + (1 << 16)], b[at:at + (1 << 16)]
            keep = (sigs[sa] == sigs[sb]).mean(axis=1) >= threshold
            pairs.append((sa[keep], sb[keep]))
    return _linked_to_earlier(n, pairs)


def _linked_to_earlier(n: int, pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Connected components over the pairs by min-label propagation; True where a row is not its component's first."""
    labels = np.arange(n)
    if not pairs:
        return np.zeros(n, dtype=bool)
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    while True:
        before = labels.copy()
        low = np.minimum(labels[a], labels[b])
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        labels = labels[labels]  # jump to the label's own label: halves the remaining distance each round
        if np.array_equal(labels, before):
            return labels != np.arange(n)
