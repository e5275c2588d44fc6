"""A sweep specification — a preset with fixed values, and axes whose product is the list of trials —
read from a small TOML file (standard library `tomllib`) and/or command-line flags, and checked whole
before anything runs.

    name = "p-x-beta"             # optional; default: the file's name without .toml
    out = "p-x-beta"              # optional sweep folder, relative to this file; default sweeps/<name>
    [base]                        # a preset and fixed values, as for `python -m core train`
    preset = "demo"               # demo | paper
    benchmark = "split-mnist"
    method = "hypermask"
    data = "bundled"              # or a path to full MNIST, relative to this file
    iters_per_task = 100          # any RunConfig field: "section.field", its bare name, or an alias
    [axes]                        # each a non-empty list; seeds may be written "1-5"
    seed = [1, 2, 3]
    sparsity = [0, 30, 60]
    "mask.beta" = [0, 0.001]

Fields: see `core.sweeps.fields` (aliases p, lambda, iters, tasks, seeds, methods). Every trial's
RunConfig is built here, so a value RunConfig refuses is reported before the first trial starts.
"""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import RunConfig
from core.presets import PRESETS
from core.safe_io import FileProblem, read_capped
from core.sweeps.fields import SpecError, build_config, coerce, format_value, label, resolve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli (requirements.txt installs it there)
    import tomli as tomllib

#: A spec file larger than this is refused unread (a spec is a few lines).
MAX_SPEC_BYTES = 1 << 20
#: Most trials one sweep may have (a typo such as seeds = "1-10000" is refused, not started).
MAX_TRIALS = 5000
SEED = "train.seed"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_TOP_KEYS = ("name", "out", "base", "axes")


@dataclass(frozen=True)
class Trial:
    """One run of a sweep: its folder name, its setting (the non-seed axis values, in axis order, as
    (canonical field, value) pairs), its seed and its full configuration."""

    name: str
    setting: tuple[tuple[str, Any], ...]
    seed: int
    config: RunConfig


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep: `preset` and the fixed `base` values (canonical field → value), `axes`
    (canonical field → values, in the order written) and the trials they make, saved in `out`."""

    name: str
    out: Path
    preset: str
    base: dict[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    trials: tuple[Trial, ...]

    @property
    def setting_axes(self) -> list[str]:
        """The axes that define a setting (every axis but the seed)."""
        return [path for path, _ in self.axes if path != SEED]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (what sweep.json stores besides the trials)."""
        return {"name": self.name, "preset": self.preset, "base": {k: _plain(v) for k, v in self.base.items()},
                "axes": [[path, [_plain(v) for v in values]] for path, values in self.axes]}


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def parse_seeds(text: str) -> list[int]:
    """Seeds typed as "1-5" (a range, both ends included), "1,3,7" or a mix ("1-3,9").

    Raises:
        SpecError: anything else, naming the text.
    """
    seeds: list[int] = []
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d{1,10})\s*(?:-\s*(\d{1,10})\s*)?", part)
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise SpecError(f"seeds {text!r}: expected a range such as 1-5 or a list such as 1,2,3")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi - lo >= MAX_TRIALS:
            raise SpecError(f"seeds {text!r}: more than {MAX_TRIALS} seeds")
        seeds += range(lo, hi + 1)
    return seeds


def _axis_values(path: str, name: str, raw: Any) -> tuple[Any, ...]:
    if path == SEED and isinstance(raw, (str, int)) and not isinstance(raw, bool):
        raw = parse_seeds(str(raw))
    elif path == SEED and isinstance(raw, list) and raw and all(isinstance(v, str) for v in raw):
        raw = parse_seeds(",".join(raw))  # from --axis seed=1-3,7
    if not isinstance(raw, list):
        raise SpecError(f"axis {name!r}: expected a list of values, got {raw!r}")
    if not raw:
        raise SpecError(f"axis {name!r} is empty: give at least one value")
    values = tuple(coerce(path, v) for v in raw)
    if len(set(values)) != len(values):
        raise SpecError(f"axis {name!r} lists a value twice: {raw!r}")
    return values


def _trial_name(parts: list[tuple[str, Any]]) -> str:
    """Folder name of a trial, e.g. "sparsity=30,beta=0.001,seed=1" (characters a folder name should not
    hold become "_")."""
    text = ",".join(f"{label(path)}={format_value(v)}" for path, v in parts) or "trial"
    return re.sub(r"[^A-Za-z0-9.=,+_-]", "_", text)[:200]


def _check_keys(d: dict[str, Any], where: str) -> None:
    for key in d:
        if key not in _TOP_KEYS:
            raise SpecError(f"{where}: unknown key {key!r} (expected {', '.join(_TOP_KEYS)})")


def spec_from_dict(d: dict[str, Any], *, where: str = "spec", base_dir: Path | None = None,
                   default_name: str = "sweep", out: str | Path | None = None) -> SweepSpec:
    """Check a spec (as read from TOML, flags merged in) and expand its trials.

    Args:
        d: {"name", "out", "base": {...}, "axes": {...}}, all optional.
        where: how messages name the spec (its file).
        base_dir: folder that relative paths in the spec (out, data) are relative to (None: the
            current folder).
        default_name: the sweep's name when `d` has none.
        out: the sweep folder, overriding d["out"] (a command-line --out, relative to the current folder).
    Raises:
        SpecError: one line naming the bad key, field or value (unknown field, empty axis, a value the
            RunConfig refuses, too many trials, two trials with one folder name).
    """
    try:
        return _spec_from_dict(d, where, base_dir, default_name, out)
    except SpecError as e:
        raise _located(e, where) from None


def _located(e: SpecError, where: str) -> SpecError:
    """`e` with the spec's name in front (once)."""
    return e if str(e).startswith(f"{where}: ") else SpecError(f"{where}: {e}")


def _spec_from_dict(d: dict[str, Any], where: str, base_dir: Path | None, default_name: str,
                    out: str | Path | None) -> SweepSpec:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: expected a table of keys")
    _check_keys(d, where)
    here = base_dir if base_dir is not None else Path(".")
    name = d.get("name", default_name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError(f"{where}: name {name!r} must be 1-80 letters, digits, '.', '_' or '-'")
    base_raw, axes_raw = d.get("base", {}), d.get("axes", {})
    for key, table in (("base", base_raw), ("axes", axes_raw)):
        if not isinstance(table, dict):
            raise SpecError(f"{where}: [{key}] must be a table of field = value lines")
    preset = base_raw.get("preset", "demo")
    if preset not in PRESETS:
        raise SpecError(f"{where}: preset {preset!r} is not one of {', '.join(PRESETS)}")
    base: dict[str, Any] = {}
    for key, value in base_raw.items():
        if key != "preset":
            path = resolve(key)
            if path in base:
                raise SpecError(f"{where}: field {path} is given twice in [base]")
            base[path] = coerce(path, value)
    axes: list[tuple[str, tuple[Any, ...]]] = []
    for key, raw in axes_raw.items():
        path = resolve(key)
        if path in base:
            raise SpecError(f"{where}: field {path} is both fixed in [base] and an axis")
        if path in dict(axes):
            raise SpecError(f"{where}: axis {path} is given twice")
        axes.append((path, _axis_values(path, key, raw)))
    source = base.get("data.source")
    if source is not None and source != "bundled" and not Path(source).expanduser().is_absolute():
        base["data.source"] = str((here / source).resolve())
    if "out" in d and not isinstance(d["out"], str):
        raise SpecError(f"{where}: out {d['out']!r} must be a folder path")
    folder = Path(out) if out is not None else (here / d["out"] if "out" in d else Path("sweeps") / name)
    trials = expand(preset, base, axes, where)
    return SweepSpec(name, folder, preset, base, tuple(axes), trials)


def expand(preset: str, base: dict[str, Any], axes: list[tuple[str, tuple[Any, ...]]],
           where: str = "spec") -> tuple[Trial, ...]:
    """Every combination of the axis values (the first axis varies slowest; seeds vary fastest), each
    as a Trial with its RunConfig built (`core.sweeps.fields.build_config`).

    Raises:
        SpecError: a value the RunConfig refuses, naming the field and value; too many trials.
    """
    count = 1
    for _, values in axes:
        count *= len(values)
    if count > MAX_TRIALS:
        raise SpecError(f"{where}: the axes make {count} trials; a sweep has at most {MAX_TRIALS}")
    ordered = [a for a in axes if a[0] != SEED] + [a for a in axes if a[0] == SEED]  # seed last: settings group
    trials, names = [], set()
    for combo in itertools.product(*(values for _, values in ordered)):
        parts = [(path, v) for (path, _), v in zip(ordered, combo)]
        try:
            cfg = build_config(preset, {**base, **dict(parts)})
        except ValueError as e:
            where_from = ", ".join(f"{path}={format_value(v)}" for path, v in parts) or "[base]"
            raise SpecError(f"{where}: {where_from}: {e}") from None
        name = _trial_name(parts)
        if name in names:
            raise SpecError(f"{where}: two trials would share the folder {name!r}; make the axis values distinct")
        names.add(name)
        setting = tuple((path, v) for path, v in parts if path != SEED)
        trials.append(Trial(name, setting, cfg.train.seed, cfg))
    return tuple(trials)


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """The TOML table of spec file `path` (a regular file of at most MAX_SPEC_BYTES, `core.safe_io`;
    TOML only, nothing executed).

    Raises:
        SpecError: missing, unreadable, too large, or not valid TOML (one line naming the file).
    """
    p = Path(path)
    try:
        raw = read_capped(p, MAX_SPEC_BYTES)
    except FileNotFoundError:
        raise SpecError(f"spec {p}: no such file") from None
    except FileProblem as e:
        raise SpecError(f"spec {p} {e}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SpecError(f"spec {p}: not valid TOML ({str(e).splitlines()[0]})") from None


def load_spec(path: str | Path | None, *, base: dict[str, Any] | None = None, axes: dict[str, Any] | None = None,
              name: str | None = None, out: str | Path | None = None) -> SweepSpec:
    """A checked sweep from spec file `path` and/or values given as flags, which are merged in over
    the file's: `base` (field → value, e.g. from --set), `axes` (field → list), `name`, `out`.

    Raises:
        SpecError: as `read_spec_file` and `spec_from_dict`.
    """
    d: dict[str, Any] = read_spec_file(path) if path is not None else {}
    where = str(path) if path is not None else "sweep flags"
    file_base, file_axes = d.get("base", {}), d.get("axes", {})
    if not isinstance(file_base, dict) or not isinstance(file_axes, dict):
        raise SpecError(f"{where}: [base] and [axes] must be tables of field = value lines")
    try:
        flag_base = _canonical(base or {}, "sweep flags", "base")
        flag_axes = _canonical(axes or {}, "sweep flags", "axes")
        file_base, file_axes = _canonical(file_base, where, "base"), _canonical(file_axes, where, "axes")
    except SpecError as e:
        raise _located(e, where) from None
    if flag_base.get("data.source") not in (None, "bundled"):  # a path typed on the command line
        flag_base["data.source"] = str(Path(flag_base["data.source"]).expanduser().resolve())
    # a flag replaces the file's value of the same field, fixed or axis
    merged_base = {k: v for k, v in file_base.items() if k not in flag_axes}
    merged_axes = {k: v for k, v in file_axes.items() if k not in flag_base}
    d = {**d, "base": {**merged_base, **flag_base}, "axes": {**merged_axes, **flag_axes}}
    if name is not None:
        d["name"] = name
    default = Path(path).stem if path is not None else "sweep"
    return spec_from_dict(d, where=where, base_dir=Path(path).parent if path is not None else None,
                          default_name=default, out=out)


def _canonical(table: dict[str, Any], where: str, section: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = _key(k)
        if key in out:
            raise SpecError(f"{where}: field {key} is given twice in [{section}]")
        out[key] = v
    return out


def _key(name: str) -> str:
    """A [base] or [axes] key in canonical form ("preset" stays itself)."""
    return name if name == "preset" else resolve(name)
