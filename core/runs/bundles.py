"""Run bundles: a zip of a run folder's files, and the checked import of one (size, members,
safetensors headers, then a full load) as a new run folder."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

from core.config import RunConfig
from core.runs.claim import new_run_dir
from core.runs.layout import RUN_FILES, RunError
from core.runs.reader import load_run

MAX_BUNDLE_BYTES = 200 * 1024 * 1024


def export_bundle(path: str | Path) -> bytes:
    """Zip of a run folder's files (the RUN_FILES present), as bytes."""
    p = Path(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in RUN_FILES:
            if (p / name).is_file():
                z.write(p / name, arcname=name)
    return buf.getvalue()


def import_bundle(data: bytes, root: str | Path, max_bytes: int = MAX_BUNDLE_BYTES) -> Path:
    """Check an uploaded run bundle (zip) and unpack it as a new run folder under `root`.

    Checks, before anything is read as a run: size (compressed and uncompressed ≤ `max_bytes`), that
    every member is one of RUN_FILES at the top level (no folders, no pickles, no '..'), that the
    safetensors parse; then the unpacked run must load.

    Raises:
        RunError: the bundle fails a check; nothing is left behind.
    """
    if len(data) > max_bytes:
        raise RunError(f"bundle is {len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except zipfile.BadZipFile:
        raise RunError("bundle is not a zip file") from None
    names = [i.filename for i in infos]
    escaping = [n for n in names if n.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", n)]
    if escaping:
        raise RunError(f"bundle member(s) {escaping[:3]} point outside the run folder; nothing was unpacked")
    bad = [n for n in names if n not in RUN_FILES]
    if bad:
        raise RunError(f"bundle holds unexpected file(s) {bad[:3]}; allowed: {', '.join(RUN_FILES)}")
    if "config.json" not in names or "metrics.json" not in names:
        raise RunError("bundle lacks config.json or metrics.json")
    if sum(i.file_size for i in infos) > max_bytes:
        raise RunError("bundle unpacks to more than the size limit")
    contents = {}
    try:
        for n in names:
            contents[n] = z.read(n)
    except (zipfile.BadZipFile, OSError, RuntimeError) as e:
        raise RunError(f"bundle is corrupt ({type(e).__name__})") from None
    from safetensors.torch import load as st_load

    for n, b in contents.items():
        if n.endswith(".safetensors"):
            try:
                st_load(b)
            except Exception:  # noqa: BLE001
                raise RunError(f"{n} in the bundle is not a valid safetensors file") from None
    try:
        cfg_data = json.loads(contents["config.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RunError(f"config.json in the bundle is not valid JSON ({type(e).__name__})") from None
    if not isinstance(cfg_data, dict):
        raise RunError("config.json in the bundle does not hold a JSON object")
    try:
        cfg = RunConfig.from_dict(cfg_data.get("config", {}))
    except (ValueError, TypeError, AttributeError) as e:
        raise RunError(f"config.json in the bundle: {e}") from None
    dest = new_run_dir(root, cfg)
    for n, b in contents.items():
        (dest / n).write_bytes(b)
    try:
        load_run(dest)
    except RunError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest
