"""A sweep's results, from its folder alone (sweep.json and each trial's metrics.json), so the CLI, the
app and a later re-run all read the same: one row per trial, and per setting (the non-seed axis
values) the mean ± sample standard deviation over its finished seeds of ACC, BWT, forgetting,
task-identity inference accuracy (hypermask.md §6, where the run computed it), training wall time
and ms/iteration. Failed and unfinished trials are counted, never averaged in.

Files: summary.csv (per setting; fractions, seconds and milliseconds as plain numbers, one column
per axis then `<metric>_mean` / `<metric>_std`; `pandas.read_csv` reads it), trials.csv (per trial)
and summary.md (the same table in percent, mean ± std).
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.runs import RunError, read_metrics
from core.sweeps.fields import format_value, label
from core.sweeps.folder import SweepInfo, read_sweep, trial_state

#: (key, column title, shown in percent) of every summarised metric.
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("acc", "ACC (%)", True), ("bwt", "BWT (%)", True), ("forgetting", "forgetting (%)", True),
    ("task_acc", "task-ID accuracy (%)", True), ("wall_s", "wall time (s)", False),
    ("ms_per_iter", "ms/iteration", False))


@dataclass
class TrialRow:
    """One trial: folder, setting (field → value), seed, state ("finished", "failed", "interrupted",
    "pending"), error, the summarised values (None unless finished) and the final row R[T−1, ·]."""

    name: str
    path: Path
    setting: dict[str, Any]
    seed: int
    state: str
    error: str | None = None
    values: dict[str, float | None] = field(default_factory=dict)
    final_row: list[float | None] = field(default_factory=list)


@dataclass
class SettingRow:
    """One setting: its values, how many of its trials finished / failed / exist, and per metric
    (mean, std) over the finished ones (std None below two; both None without any)."""

    setting: dict[str, Any]
    done: int
    failed: int
    total: int
    stats: dict[str, tuple[float | None, float | None]]


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _values(m: dict[str, Any]) -> dict[str, float | None]:
    inference = m.get("task_inference") if isinstance(m.get("task_inference"), dict) else {}
    seconds = m.get("task_seconds")
    wall = sum(s for s in seconds if _num(s) is not None) if isinstance(seconds, list) and seconds else None
    return {"acc": _num(m.get("avg_acc")), "bwt": _num(m.get("bwt")), "forgetting": _num(m.get("forgetting")),
            "task_acc": _num(inference.get("task_accuracy")), "wall_s": _num(wall),
            "ms_per_iter": _num(m.get("ms_per_iter"))}


def trial_rows(sweep: SweepInfo, errors: dict[str, str] | None = None) -> list[TrialRow]:
    """Every trial of `sweep` with its state and, if finished, its values. `errors`: failures the sweep
    saw that its folders may not record (e.g. a trial folder that could not be cleared)."""
    rows = []
    for t in sweep.trials:
        path = sweep.path / t.name
        state, error = trial_state(path)
        row = TrialRow(t.name, path, t.setting, t.seed, state, error)
        if errors and t.name in errors and state != "finished":
            row.state, row.error = "failed", errors[t.name]
        if state == "finished":
            try:
                m = read_metrics(path)  # bounded and validated (core.runs)
                row.values = _values(m)
                row.final_row = list(m["acc_matrix"][-1]) if m["acc_matrix"] else []
            except (OSError, RunError) as e:
                row.state, row.error = "failed", f"unreadable: {e}"
        rows.append(row)
    return rows


def _key(setting: dict[str, Any]) -> tuple[Any, ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in setting.items())


def aggregate(rows: list[TrialRow]) -> list[SettingRow]:
    """Per setting, in order of first appearance: counts and (mean, std) of every metric over the
    setting's finished trials."""
    groups: dict[tuple[Any, ...], list[TrialRow]] = {}
    for r in rows:
        groups.setdefault(_key(r.setting), []).append(r)
    out = []
    for members in groups.values():
        done = [r for r in members if r.state == "finished"]
        stats = {}
        for key, _, _ in METRICS:
            xs = [r.values[key] for r in done if r.values.get(key) is not None]
            stats[key] = (statistics.fmean(xs) if xs else None, statistics.stdev(xs) if len(xs) >= 2 else None)
        out.append(SettingRow(members[0].setting, len(done), sum(r.state == "failed" for r in members),
                              len(members), stats))
    return out


def _cell(v: Any) -> Any:
    """A setting's value as in folder names ("30", "64x64"); "" for None."""
    return "" if v is None else format_value(tuple(v) if isinstance(v, list) else v)


def _number(v: float | None) -> str:
    """A metric at full precision (shortest text that reads back the same float); "" for None."""
    return "" if v is None else repr(float(v))


def settings_csv(sweep: SweepInfo, settings: list[SettingRow]) -> str:
    """summary.csv's text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([label(a) for a in sweep.setting_axes] + ["seeds_done", "seeds_failed", "seeds_total"] +
               [f"{k}_{s}" for k, _, _ in METRICS for s in ("mean", "std")])
    for s in settings:
        w.writerow([_cell(s.setting.get(a)) for a in sweep.setting_axes] + [s.done, s.failed, s.total] +
                   [_number(v) for k, _, _ in METRICS for v in s.stats[k]])
    return buf.getvalue()


def trials_csv(sweep: SweepInfo, rows: list[TrialRow]) -> str:
    """trials.csv's text: one line per trial."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["trial"] + [label(a) for a in sweep.setting_axes] + ["seed", "state", "error"] +
               [k for k, _, _ in METRICS])
    for r in rows:
        w.writerow([r.name] + [_cell(r.setting.get(a)) for a in sweep.setting_axes] +
                   [r.seed, r.state, r.error or ""] + [_number(r.values.get(k)) for k, _, _ in METRICS])
    return buf.getvalue()


def mean_std(mean: float | None, std: float | None, percent: bool) -> str:
    """"97.7 ± 0.3" (percent: fractions × 100, one decimal), "97.7" for one seed, "—" for none."""
    if mean is None:
        return "—"
    scale, spec = (100.0, ".1f") if percent else (1.0, ".1f" if abs(mean) >= 10 else ".2f")
    text = format(scale * mean + 0.0, spec)
    return text if std is None else f"{text} ± {format(scale * std, spec)}"


def settings_markdown(sweep: SweepInfo, settings: list[SettingRow]) -> str:
    """summary.md's table: one row per setting, mean ± std over seeds."""
    head = [label(a) for a in sweep.setting_axes] + ["seeds"] + [title for _, title, _ in METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in settings:
        seeds = f"{s.done}/{s.total}" + (f" ({s.failed} failed)" if s.failed else "")
        cells = [_cell(s.setting.get(a)) for a in sweep.setting_axes] + [seeds] + \
                [mean_std(*s.stats[k], percent=pct) for k, _, pct in METRICS]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(sweep_dir: str | Path,
                  errors: dict[str, str] | None = None) -> tuple[list[TrialRow], list[SettingRow]]:
    """Read sweep folder `sweep_dir` and (re)write summary.csv, trials.csv and summary.md in it.

    Raises:
        core.sweeps.folder.SweepError: not a readable sweep folder.
    """
    sweep = read_sweep(sweep_dir)
    rows = trial_rows(sweep, errors)
    settings = aggregate(rows)
    title = f"# Sweep {sweep.name}\n\nMean ± std over seeds (sample std); {len(rows)} trials.\n\n"
    for name, text in (("summary.csv", settings_csv(sweep, settings)), ("trials.csv", trials_csv(sweep, rows)),
                       ("summary.md", title + settings_markdown(sweep, settings))):
        tmp = sweep.path / (name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(sweep.path / name)
    return rows, settings


def mean_grid(rows: list[TrialRow], x_axis: str, y_axis: str,
              metric: str = "acc") -> tuple[list[Any], list[Any], list[list[float | None]]]:
    """Mean of `metric` over the finished trials for every pair of values of two axes (over seeds, and
    over any other axis): (x values, y values, matrix[i][j] for y value i and x value j, None where no
    trial finished), values in order of first appearance."""
    xs: list[Any] = []
    ys: list[Any] = []
    cells: dict[tuple[Any, Any], list[float]] = {}
    for r in rows:
        x, y = (_key({"v": r.setting.get(a)})[0][1] for a in (x_axis, y_axis))
        xs += [x] if x not in xs else []
        ys += [y] if y not in ys else []
        v = r.values.get(metric) if r.state == "finished" else None
        if v is not None:
            cells.setdefault((x, y), []).append(v)
    matrix = [[statistics.fmean(cells[(x, y)]) if (x, y) in cells else None for x in xs] for y in ys]
    return xs, ys, matrix
