"""One rule for claiming a new run folder, for the CLI's `--out`, the app's generated folders and the
training worker: the folder must be new or empty, is created, and is claimed by creating a lock file
exclusively, so two runs can never write into one folder."""

from __future__ import annotations

import time
from pathlib import Path

from core.config import RunConfig
from core.runs.layout import LOCK_FILE, RunError
from core.runs.listing import early_failure

__all__ = ["LOCK_FILE", "check_out_dir", "claim_run_dir", "new_run_dir"]


def check_out_dir(path: str | Path, name: str = "--out", claimed: bool = False) -> Path:
    """Check, without creating anything, that `path` can become a new run folder. `name` is how the
    messages call the path (the CLI's `--out`, the worker's `run_dir`); `claimed`: the folder may
    already hold the lock file of `claim_run_dir` (a worker writing into the folder its app claimed).

    Raises:
        RunError: empty path, a file, a folder that already holds a run or anything else.
    """
    if not str(path).strip():
        raise RunError(f"{name} is empty; give a new folder for the run")
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise RunError(f"{name} {p} is a file; give a folder for the run")
    if (p / "config.json").exists() or (p / "metrics.json").exists():
        raise RunError(f"{name} {p} already holds a run; choose a new folder (nothing was overwritten)")
    if p.is_dir() and any(f.name != LOCK_FILE or not claimed for f in p.iterdir()):
        early = early_failure(p)
        if early is not None:
            raise RunError(f"{name} {p} holds a run that failed before its first task ({early[:120]}); "
                           "delete that folder or give another one")
        raise RunError(f"{name} {p} is a folder that is not empty; give a new or empty folder")
    return p


def claim_run_dir(path: str | Path, name: str = "--out") -> Path:
    """Check (`check_out_dir`), create and claim a run folder with an exclusive lock file, so that a
    second run started on the same folder is refused; never overwrite anything.

    Raises:
        RunError: as `check_out_dir`, or the folder cannot be created or is being claimed.
    """
    p = check_out_dir(path, name)
    try:
        p.mkdir(parents=True, exist_ok=True)
        (p / LOCK_FILE).open("x").close()
    except FileExistsError:
        raise RunError(f"{name} {p}: another run is already writing into this folder") from None
    except OSError as e:
        raise RunError(f"cannot create run folder {p}: {e.strerror}") from None
    return p


def new_run_dir(root: str | Path, cfg: RunConfig) -> Path:
    """A fresh folder under `root` named '<date>-<time>-<method>-<benchmark>-s<seed>[-k]', claimed by
    `claim_run_dir` (the first k whose folder does not exist yet).

    Raises:
        RunError: `root` cannot be created, or no free name among 1000.
    """
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"cannot create the runs folder {root}: {e.strerror}") from None
    stem = time.strftime("%Y%m%d-%H%M%S") + f"-{cfg.train.method}-{cfg.data.benchmark}-s{cfg.train.seed}"
    for k in range(1000):
        path = root / (stem if k == 0 else f"{stem}-{k}")
        if path.exists():
            continue
        try:
            return claim_run_dir(path, "run folder")
        except RunError:
            continue  # taken between the check and the claim
    raise RunError(f"could not create a new run folder under {root}")
