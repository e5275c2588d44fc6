"""Run folders: one format, one loader — writing, reading with validation, listing, bundles, and
one rule for claiming a new folder (CLI and app alike).

A run folder holds
  config.json         {"format_version", "config": RunConfig.to_dict()}
  metrics.json        {"format_version", "status", "tasks_done", "acc_matrix" (T×T, null above the
                       diagonal), "avg_acc", "bwt", "forgetting", "fwt", …, "device", "data": {source, sha256, …}}
  events.jsonl        the training events (core/events.py), one JSON object a line
  weights.safetensors target.* and hypernet.* tensors (task embeddings: hypernet.embeddings)
  masks.safetensors   final per-task masks "task<j>/<param>" (float16, for inspection)
  task_masks.safetensors  each task's mask at the end of its own task, same names (float16; runs
                      written before this file existed lack it)
  tickets.json        cached winning-ticket analyses (core/tickets), if they were computed
  .run.lock           the claim on the folder (core/runs/claim.py); locked (fcntl.flock) by the process
                      training into it, with its pid (core/runs/liveness.py): a free lock under a
                      "running" status means the run was interrupted
JSON and safetensors only: loading a run never executes code. Files are written to a temporary name
and renamed, after every task, so an interrupted run keeps its completed tasks; weights.safetensors'
header holds the checkpoint a resume continues from (core/engine/checkpoint.py, core/engine/resume.py).

Modules: layout (file names, RunError, atomic writes, bounded JSON reads), claim (a new folder), liveness
(the lock of a live run; interrupted runs), writer (RunFiles, used by the training loop), event_log
(typed events, read incrementally: the live channel), reader (config, metrics, tensors, `load_run`),
listing (summaries, deletion), bundles (zip export and checked import).
"""

from core.runs.bundles import MAX_BUNDLE_BYTES, export_bundle, import_bundle
from core.runs.event_log import EventLog, read_events
from core.runs.claim import LOCK_FILE, check_out_dir, claim_run_dir, new_run_dir
from core.runs.layout import RUN_FILES, TASK_MASKS_FILE, RunError
from core.runs.listing import RunSummary, delete_run, early_failure, list_runs, summarize_run
from core.runs.liveness import clear_stale, lock_held, run_status
from core.runs.reader import Run, check_tensor_files, load_run, read_config, read_masks, read_metrics
from core.runs.writer import RunFiles, record_failure

__all__ = ["EventLog", "MAX_BUNDLE_BYTES", "LOCK_FILE", "RUN_FILES", "TASK_MASKS_FILE", "Run", "RunError", "RunFiles", "RunSummary",
           "check_out_dir", "check_tensor_files", "claim_run_dir", "clear_stale", "delete_run", "early_failure",
           "lock_held", "run_status",
           "export_bundle", "import_bundle", "list_runs", "load_run", "new_run_dir", "read_config",
           "read_events", "read_masks", "read_metrics", "record_failure", "summarize_run"]
