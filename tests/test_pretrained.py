"""The shipped pretrained runs: listed in the manifest, small, loadable by the safe loader, and telling
the story the app shows (HyperMask keeps old tasks, fine-tuning forgets)."""

import json
from pathlib import Path

import pytest

from core.runs import TASK_MASKS_FILE, load_run
from core.tickets.cache import read_cache
from core.tickets.settings import SWEEP_LEVELS, settings

ROOT = Path(__file__).resolve().parents[1] / "pretrained"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())["runs"]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["path"] for e in MANIFEST])
def test_pretrained_run_loads_and_is_small(entry) -> None:
    folder = ROOT / entry["path"]
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 5 * 1024 * 1024, f"{entry['path']} is {size / 2**20:.1f} MiB"
    run = load_run(folder)
    assert run.metrics["status"] == "finished" and run.tasks_done == len(run.metrics["acc_matrix"])
    assert run.metrics["data"]["source"] in ("bundled", "sklearn-digits")
    ti = run.metrics["task_inference"]  # class-incremental evaluation, for the scenario switch
    assert ti is not None and ti["n_samples"] == sum(run.metrics["data"]["test_sizes"])
    assert (folder / TASK_MASKS_FILE).exists() == (run.config.train.method == "hypermask")  # mask drift
    # The shipped analyses match the shipped files, so the Tickets page opens without computing.
    assert read_cache(folder, settings(5, SWEEP_LEVELS)) is not None, f"{entry['path']}/tickets.json is stale"


@pytest.mark.parametrize("bench", ["split-mnist", "permuted-mnist", "split-digits"])
def test_hypermask_forgets_less_than_finetuning(bench: str) -> None:
    hm = load_run(ROOT / f"{bench}-hypermask").metrics
    ft = load_run(ROOT / f"{bench}-finetune").metrics
    assert hm["avg_acc"] > ft["avg_acc"] + 0.1 and hm["bwt"] > ft["bwt"] + 0.1


def test_shipped_sweep_is_small_complete_and_tells_the_beta_story() -> None:
    """The p × β grid of the Sweeps page: 36 finished trials, metrics only (no tensors), under 3 MB; without
    the hypernetwork regulariser (β = 0) HyperMask forgets, with it it does not."""
    from core.sweeps import read_sweep, trial_rows

    grid = ROOT / "sweeps" / "split-mnist-p-beta"
    files = [f for f in grid.rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) < 3 * 1024 * 1024 and not any(f.suffix == ".safetensors" for f in files)
    rows = trial_rows(read_sweep(grid))
    assert len(rows) == 36 and {r.state for r in rows} == {"finished"}
    bwt = {b: [r.values["bwt"] for r in rows if r.setting["mask.beta"] == b] for b in (0.0, 0.001)}
    assert max(bwt[0.0]) < -0.05 < min(bwt[0.001])
