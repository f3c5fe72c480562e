"""Loaded models kept in memory between chats, within a memory budget.

Loading a model takes seconds to minutes, so Chat, Compare and serve keep what they loaded. The cache is
least-recently-used: after a load pushes the total past the budget, the models used longest ago are
dropped (never the one just asked for). ``unload`` drops one on request. Loads of the same key are
serialised, so two tabs asking for one model at once load it once.
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

BUDGET_ENV = "BAILONG_MODEL_CACHE_GB"


def default_budget_bytes() -> int:
    """``$BAILONG_MODEL_CACHE_GB``, else half the GPU memory when CUDA is used, else half the host memory."""
    configured = os.environ.get(BUDGET_ENV)
    if configured:
        return int(float(configured) * 2**30)
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory // 2
    import psutil

    return psutil.virtual_memory().total // 2


def model_bytes(model: Any) -> int:
    """Bytes held by a model's parameters and buffers (quantised weights count at their packed size)."""
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        total += tensor.numel() * tensor.element_size()
    return total


class ModelCache:
    def __init__(self, budget_bytes: int | None = None) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def _budget(self) -> int:
        if self.budget_bytes is None:
            self.budget_bytes = default_budget_bytes()
        return self.budget_bytes

    def get(self, key: Hashable, load: Callable[[], Any], size_of: Callable[[Any], int]) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:  # another caller loaded it while we waited
                    self._entries.move_to_end(key)
                    return self._entries[key][0]
            value = load()
            size = size_of(value)
            with self._lock:
                self._entries[key] = (value, size)
                self._evict(keep=key)
                self._loading.pop(key, None)
            return value

    def _evict(self, keep: Hashable) -> None:
        while self.total_bytes() > self._budget():
            oldest = next((k for k in self._entries if k != keep), None)
            if oldest is None:
                break
            del self._entries[oldest]
        _release_memory()

    def total_bytes(self) -> int:
        return sum(size for _, size in self._entries.values())

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)

    def unload(self, key: Hashable) -> bool:
        with self._lock:
            found = self._entries.pop(key, None) is not None
        if found:
            _release_memory()
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        _release_memory()


def _release_memory() -> None:
    gc.collect()
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
