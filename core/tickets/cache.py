"""The analyses' cache: tickets.json in the run folder, so a page opens at once the second time.

    {"version": CACHE_VERSION,
     "fingerprint": {file: [size in bytes, sha256 hex] or null, for weights.safetensors,
                     masks.safetensors, task_masks.safetensors and metrics.json},
     "settings": {"seeds": …, "levels": […]},
     "seconds": time the analyses took, "created": ISO time,
     "run": {…}, "cross_mask": {…}, "sweep": {…}, "controls": {…}, "drift": {…}, "inference": {…}}

A cache is used only when its version, fingerprint and settings all equal the run's now, so retrained
or replaced weights are analysed again. The fingerprint hashes the files' contents rather than their
times, so a cache shipped with a run (the pretrained runs: a git checkout gives every file a new time)
stays valid. Reading is bounded (`MAX_CACHE_BYTES`) and plain JSON; a cache that cannot be read, or
is stale, is ignored and rewritten. Imports neither torch nor the models: a cache hit costs hashing
the run's tensor files (a few MB for a demo run) and one small JSON parse.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from core.runs.layout import TASK_MASKS_FILE, write_json_atomic
from core.safe_io import FileProblem, read_json

CACHE_FILE = "tickets.json"
#: Bumped whenever the analyses or their JSON change, so older caches are recomputed.
CACHE_VERSION = 2
MAX_CACHE_BYTES = 16 * 1024 * 1024
_FINGERPRINTED = ("weights.safetensors", "masks.safetensors", TASK_MASKS_FILE, "metrics.json")


def fingerprint(path: str | Path) -> dict[str, list[int | str] | None]:
    """{file: [size in bytes, sha256 hex]} of the run files the analyses read (None for an absent or
    unreadable file)."""
    out: dict[str, list[int | str] | None] = {}
    for name in _FINGERPRINTED:
        try:
            with open(Path(path) / name, "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256")
                out[name] = [fh.tell(), digest.hexdigest()]
        except OSError:
            out[name] = None
    return out


def read_cache(path: str | Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The cached analyses of run folder `path` if they are current (same version, fingerprint and
    `settings`), else None; never raises for a missing, oversized or malformed file."""
    try:
        data = read_json(Path(path) / CACHE_FILE, MAX_CACHE_BYTES)  # a regular file only: never a FIFO
    except (OSError, FileProblem):
        return None
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return None
    if data.get("fingerprint") != fingerprint(path) or data.get("settings") != settings:
        return None
    return data


def write_cache(path: str | Path, result: dict[str, Any]) -> str | None:
    """Write `result` (with its fingerprint and settings) as tickets.json, atomically; returns None,
    or the reason it could not be written (e.g. a read-only folder such as a shipped pretrained run),
    which never fails the analyses."""
    try:
        write_json_atomic(Path(path) / CACHE_FILE, result)
    except (OSError, ValueError) as e:  # ValueError: a NaN, which strict JSON refuses
        return f"{CACHE_FILE} not written ({getattr(e, 'strerror', None) or e})"
    return None


__all__ = ["CACHE_FILE", "CACHE_VERSION", "MAX_CACHE_BYTES", "fingerprint", "read_cache", "write_cache"]
