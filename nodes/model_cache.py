"""Loaded networks kept between runs while the loader's inputs and files are unchanged.

ComfyUI caches node outputs too, but drops them when a graph changes elsewhere or another
workflow runs; loading the shape model again costs seconds to minutes, so the last few
loads are kept here, keyed by what was loaded and the files' modification times.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Hashable

from .comfy_runtime import free_memory

MAX_ENTRIES = 2
_entries: "OrderedDict[Hashable, Any]" = OrderedDict()


def file_signature(path: Path) -> tuple:
    """Changes when the file, or any file directly in the folder, is replaced."""
    files = [path] if path.is_file() else sorted(entry for entry in path.iterdir() if entry.is_file())
    return tuple((entry.name, entry.stat().st_mtime_ns, entry.stat().st_size) for entry in files)


def cached(key: Hashable, load: Callable[[], Any]) -> Any:
    """The value stored under ``key``, loading it first when absent; least recently used
    entries beyond MAX_ENTRIES are dropped and their memory handed back."""
    if key in _entries:
        _entries.move_to_end(key)
        return _entries[key]
    value = load()
    _entries[key] = value
    while len(_entries) > MAX_ENTRIES:
        _entries.popitem(last=False)
        free_memory()
    return value


def lookup(key: Hashable) -> Any | None:
    """The value under ``key`` when cached, without loading anything."""
    return _entries.get(key)
