"""Run bundles: a zip of a run folder's files, and the checked import of one (size, members,
safetensors headers, then a full load) as a new run folder."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

from core.config import RunConfig
from core.runs.claim import new_run_dir
from core.runs.layout import MAX_JSON_BYTES, RUN_FILES, RunError
from core.runs.reader import load_run
from core.safe_io import FileProblem, parse_json, size_text

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

    Checks, before anything is read as a run: size (compressed and uncompressed ≤ `max_bytes`; a
    member is decompressed only up to the size its header states), that every member is one of
    RUN_FILES at the top level (no folders, no pickles, no '..'), that the JSON files are UTF-8 JSON
    objects of sane size and nesting, that the safetensors parse; then the unpacked run must load.

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
    for i in infos:
        if i.filename.endswith(".json") and i.file_size > MAX_JSON_BYTES:
            raise RunError(f"{i.filename} in the bundle is {size_text(i.file_size)}, more than the "
                           f"{size_text(MAX_JSON_BYTES)} a run's JSON file may have")
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
    parsed = {}
    for n in ("config.json", "metrics.json"):
        try:
            parsed[n] = parse_json(contents[n])
        except FileProblem as e:
            raise RunError(f"{n} in the bundle {e}") from None
        if not isinstance(parsed[n], dict):
            raise RunError(f"{n} in the bundle does not hold a JSON object")
    try:
        cfg = RunConfig.from_dict(parsed["config.json"].get("config", {}))
    except (ValueError, TypeError, AttributeError, OverflowError) as e:
        raise RunError(f"config.json in the bundle: {str(e)[:300]}") from None
    dest = new_run_dir(root, cfg)
    for n, b in contents.items():
        (dest / n).write_bytes(b)
    try:
        load_run(dest)
    except RunError as e:
        shutil.rmtree(dest, ignore_errors=True)
        raise RunError(f"the bundle's run does not load: {e}") from None
    return dest
