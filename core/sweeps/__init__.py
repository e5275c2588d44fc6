"""Sweeps: seeds × settings × methods under one name (`python -m core sweep SPEC`), each trial an
ordinary run folder inside the sweep folder, summarised per setting as mean ± std over seeds.

Modules: fields (RunConfig fields as a spec names them), spec (the TOML spec, checked whole, and its
trials), folder (sweep.json, trial states, locks), trial (one trial in a pool process or Ray task),
progress (the terminal bar), execute (local pool or Ray; resume), summary (summary.csv / .md,
trials.csv), reproduce (the paper's table: `python -m core reproduce`), cli (the two commands).
Importing this package does not import PyTorch.
"""

from core.sweeps.execute import LOCAL_RAY, SweepReport, check_runnable, default_workers, run_sweep
from core.sweeps.fields import SpecError
from core.sweeps.folder import SWEEP_FILE, SweepError, SweepInfo, list_sweeps, read_sweep, trial_state
from core.sweeps.spec import SweepSpec, Trial, load_spec, parse_seeds, spec_from_dict
from core.sweeps.summary import METRICS, SettingRow, TrialRow, aggregate, trial_rows, write_summary

__all__ = ["LOCAL_RAY", "METRICS", "SWEEP_FILE", "SettingRow", "SpecError", "SweepError", "SweepInfo", "SweepReport",
           "SweepSpec", "Trial", "TrialRow", "aggregate", "check_runnable", "default_workers", "list_sweeps",
           "load_spec", "parse_seeds", "read_sweep", "run_sweep", "spec_from_dict", "trial_rows", "trial_state",
           "write_summary"]
