"""The Runs page and the run pickers on an interrupted run: shown as "interrupted", and its Resume button
continues it through the launcher (a training process of its own) to the result of an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

from core.engine import launcher
from core.engine.loop import run_training
from tests.app.test_pages import _app, _tiny, env, pretrained  # noqa: F401 - fixtures

WAIT_S = 240  # a first training process waits for the forkserver's imports


def _interrupted_run(folder: Path) -> None:
    """A run stopped in its second task, its metrics.json left saying "running" as a killed one's does."""
    calls = {"n": 0}

    def stop_in_task_1() -> bool:
        calls["n"] += 1
        return calls["n"] > 27  # 20 iterations a task

    run_training(_tiny("hypermask"), should_stop=stop_in_task_1, run_dir=folder)
    m = json.loads((folder / "metrics.json").read_text())
    m["status"] = "running"
    (folder / "metrics.json").write_text(json.dumps(m))


def test_an_interrupted_run_is_shown_so_and_resumes_from_the_runs_page(env: Path, tmp_path: Path) -> None:  # noqa: F811
    run = env / "killed-run"
    _interrupted_run(run)
    reference = tmp_path / "reference"
    run_training(_tiny("hypermask"), run_dir=reference)
    at = _app("views/runs.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc[table["run"] == "killed-run", "status"].tolist() == ["interrupted"]
    at.selectbox(key="runs_selected").set_value(str(run.resolve())).run()
    at.button(key="runs_resume").click().run()
    assert not at.exception and not at.error
    live = launcher.get(run)
    assert live is not None and live.join(WAIT_S) and live.status() == "finished"
    m, r = (json.loads((d / "metrics.json").read_text()) for d in (run, reference))
    assert m["acc_matrix"] == r["acc_matrix"] and m["status"] == "finished"
    at = _app("views/runs.py")  # a finished run offers no Resume
    at.selectbox(key="runs_selected").set_value(str(run.resolve())).run()
    assert not [b for b in at.button if b.key == "runs_resume"]
