"""What a fresh user's first trial hit (issue 11): a run stopped before its first task on the analysis
pages, the Train page's note naming the chosen benchmark."""

from __future__ import annotations

from pathlib import Path

from core.engine.loop import run_training
from tests.app.test_pages import _app, _tiny, env, pretrained  # noqa: F401 (fixtures)


def test_a_run_stopped_before_its_first_task_is_not_offered_for_analysis(env: Path) -> None:  # noqa: F811
    result = run_training(_tiny("hypermask"), should_stop=lambda: True, run_dir=env / "stopped-early")
    assert not (env / "stopped-early" / "weights.safetensors").exists(), result
    for page, key in (("views/masks.py", "masks_run"), ("views/embeddings.py", "emb_run"),
                      ("views/tickets.py", "tickets_run")):
        at = _app(page)
        assert not at.exception and not at.error, (page, [e.value for e in at.error])
        options = at.selectbox(key=key).options
        assert options and not any("stopped-early" in o for o in options), options
        assert any("ended before finishing a first task" in c.value for c in at.caption), page
