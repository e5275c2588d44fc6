"""RunConfig fields as a sweep names them: "section.field" (e.g. "mask.sparsity"), the bare field name
where only one section has it ("sparsity"), or a short alias ("p", "lambda", "iters", "seeds"); their
values checked against the field's type; and a RunConfig built from a preset plus such values.

The fields a preset depends on (benchmark, method, seed, data source) are passed to
`core.presets.make_config`, so that e.g. a "method" axis gives HNET its own regulariser settings;
every other field replaces the preset's value afterwards, and the RunConfig's own validation then
refuses what it refuses (a ValueError naming the value).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from core.config import DataConfig, HyperConfig, MaskConfig, RunConfig, TargetConfig, TrainConfig, parse_sizes
from core.presets import make_config

_SECTIONS = {"data": DataConfig, "target": TargetConfig, "hyper": HyperConfig, "mask": MaskConfig,
             "train": TrainConfig}

#: "section.field" → the field's type as written in core/config.py ("float", "int | None", …).
FIELDS: dict[str, str] = {f"{s}.{f.name}": str(f.type) for s, klass in _SECTIONS.items()
                          for f in dataclasses.fields(klass)}

#: Fields handed to `make_config` (the preset depends on them) → its keyword.
PRESET_ARGS = {"data.benchmark": "benchmark", "train.method": "method", "train.seed": "seed",
               "data.source": "source"}

ALIASES = {"p": "mask.sparsity", "lambda": "mask.lam", "iters": "train.iters_per_task", "tasks": "data.n_tasks",
           "seeds": "train.seed", "methods": "train.method", "data": "data.source", "benchmarks": "data.benchmark"}

#: Bare names of fields that exist in one section only (e.g. "sparsity" → "mask.sparsity").
_BARE = {}
for _path in FIELDS:
    _BARE.setdefault(_path.split(".")[1], []).append(_path)


class SpecError(ValueError):
    """A sweep specification that cannot run; the message is one line naming the field or key."""


def resolve(name: str) -> str:
    """The canonical "section.field" of `name` (a canonical name, a bare field name or an alias).

    Raises:
        SpecError: unknown or ambiguous name (the message names it and what would be accepted).
    """
    if not isinstance(name, str):
        raise SpecError(f"field {name!r}: a field name must be text")
    key = name.strip()
    if key in FIELDS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    paths = _BARE.get(key, [])
    if len(paths) == 1:
        return paths[0]
    if len(paths) > 1:
        raise SpecError(f"field {name!r} is ambiguous: write {' or '.join(paths)}")
    raise SpecError(f"unknown field {name!r}: expected a RunConfig field such as mask.sparsity, sparsity, "
                    f"beta, lam, iters_per_task, seed or method (core/config.py lists them all)")


def label(path: str) -> str:
    """Short name of a canonical field for tables and folder names: the bare field name where that is
    unambiguous ("sparsity"), else the canonical one ("target.hidden")."""
    bare = path.split(".")[1]
    return bare if len(_BARE[bare]) == 1 else path


def _number(path: str, value: Any, kind: type) -> int | float:
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except ValueError:
            raise SpecError(f"{path}: {value!r} is not a {'whole ' if kind is int else ''}number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{path}: {value!r} is not a number")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise SpecError(f"{path}: {value!r} is not a whole number")
        return int(value)
    if not math.isfinite(value):
        raise SpecError(f"{path}: {value!r} is not a finite number")
    return float(value)


def coerce(path: str, value: Any) -> Any:
    """`value` (from TOML or typed on the command line) as the type of field `path`.

    Raises:
        SpecError: a value of the wrong kind, naming the field and the value.
    """
    kind = FIELDS[path]
    if kind.endswith("| None"):
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return None
        kind = kind.split("|")[0].strip()
    if kind in ("int", "float"):
        return _number(path, value, int if kind == "int" else float)
    if kind == "bool":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise SpecError(f"{path}: {value!r} is not true or false")
        return value
    if kind.startswith("tuple"):
        if isinstance(value, str):  # "64x64" (command line) or "64,64"
            try:
                return parse_sizes(value.replace("x", ","), path)
            except ValueError as e:
                raise SpecError(str(e)) from None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
            raise SpecError(f"{path}: {value!r} is not a list of whole numbers like [64, 64]")
        return tuple(value)
    if not isinstance(value, str):
        raise SpecError(f"{path}: {value!r} is not text")
    return value


def format_value(value: Any) -> str:
    """A value as tables and folder names show it: 30.0 → "30", 0.001 → "0.001", (64, 64) → "64x64"."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def build_config(preset: str, values: dict[str, Any]) -> RunConfig:
    """`make_config(preset=preset, …)` with the preset-level fields of `values` (canonical names,
    coerced), then every other field of `values` replaced, one section at a time.

    Raises:
        ValueError: a value the preset or RunConfig refuses (the message names it).
    """
    args = {kw: values[path] for path, kw in PRESET_ARGS.items() if path in values}
    cfg = make_config(preset=preset, **args)
    parts: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        if path not in PRESET_ARGS:
            section, name = path.split(".")
            parts.setdefault(section, {})[name] = value
    return cfg.replace(**{s: dataclasses.replace(getattr(cfg, s), **kw) for s, kw in parts.items()})
