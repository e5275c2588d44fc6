"""A lecture hall: with a presenter password, visitors cannot delete, import, resume, name a data path
or train unless allowed (then one small run at a time); the presenter's data paths stay inside the
configured folders; a Start beyond the machine's capacity waits in the queue with its position."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import roles
from core.engine import launcher
from tests.app.test_pages import _app, _poll, _tiny_form, env, pretrained  # noqa: F401 (fixtures)

PASSWORD = "open sesame"


@pytest.fixture
def hall(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv("HYPERMASK_PRESENTER_PASSWORD", PASSWORD)
    roles.set_visitors_may_train(False)
    yield env
    roles.set_visitors_may_train(False)


def _sign_in(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.text_input(key="roles_password").set_value(password)
    return at.button[[b.label for b in at.button].index("Sign in as presenter")].click().run()


def _errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def test_a_visitor_explores_but_cannot_change_anything(hall: Path, pretrained: Path) -> None:  # noqa: F811
    runs = _app("views/runs.py")
    assert not runs.exception
    keys = {b.key for b in runs.button}
    assert "runs_import" not in keys and "runs_delete" not in keys
    train = _app("views/train.py")
    src = train.text_input(key="train_source")
    assert src.disabled and src.value == "bundled"  # no server path can be named (or probed)
    _tiny_form(train)
    train.button(key="train_start").click().run()
    assert "only the presenter can start runs" in _errors(train) and not launcher.active()
    assert "Wrong password" in _errors(_sign_in(_app(), "guess"))


def test_visitors_may_train_one_small_run_once_allowed(hall: Path) -> None:
    presenter = _sign_in(_app())
    assert presenter.toggle(key="roles_visitors_train").value is False
    presenter.toggle(key="roles_visitors_train").set_value(True).run()
    assert roles.visitors_may_train()
    visitor = _app("views/train.py")
    _tiny_form(visitor, iters=3000)
    visitor.button(key="train_start").click().run()
    assert "at most 4,000 training steps" in _errors(visitor)
    _tiny_form(visitor, iters=1000)
    visitor.button(key="train_start").click().run()
    assert not visitor.exception and len(launcher.active()) == 1
    assert visitor.button(key="train_stop")  # a visitor steers the run it started
    watcher = _app("views/train.py")  # another visitor watches it but cannot stop or pause it
    assert not any(b.key == "train_stop" for b in watcher.button)
    assert any("You are watching this run" in c.value for c in watcher.caption)
    visitor.session_state["train_config"] = True  # the same visitor opens the form again and starts another
    visitor.run()
    visitor.button(key="train_start").click().run()
    assert "at most 1 per visitor" in _errors(visitor) and len(launcher.active()) == 1


def test_presenter_data_paths_stay_in_the_data_folders(hall: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERMASK_DATA_DIRS", str(tmp_path / "data"))
    at = _sign_in(_app())
    at.switch_page("views/train.py").run()
    at.selectbox(key="train_benchmark").set_value("split-mnist").run()
    at.text_input(key="train_source").set_value("/etc/passwd").run()
    at.button(key="train_start").click().run()
    assert "data path '/etc/passwd' is not inside the configured data folders" in _errors(at)
    assert not launcher.active()


def test_a_start_beyond_capacity_waits_in_the_queue(hall: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher.QUEUE, "capacity", 1)
    first = _sign_in(_app())
    first.switch_page("views/train.py").run()
    _tiny_form(first, iters=20000)
    first.button(key="train_start").click().run()
    assert len(launcher.active()) == 1
    second = _sign_in(_app())
    second.switch_page("views/train.py").run()
    _tiny_form(second, iters=50)
    second.button(key="train_start").click().run()
    assert not second.exception
    assert any("Queued" in i.value and "position **1** of 1" in i.value for i in second.info)
    assert "Queue: 1 waiting" in [e.label for e in second.expander]  # the presenter's view of the queue
    assert len(launcher.QUEUE.queued()) == 1
    second.button(key="train_queue_cancel").click().run()
    assert not launcher.QUEUE.queued() and not any("Queued" in i.value for i in second.info)


def test_a_visitors_link_names_no_data_path(hall: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERMASK_DATA_DIRS", str(tmp_path))
    at = _app("views/train.py", data="/etc/passwd")
    assert not at.exception
    said = " ".join(w.value for w in at.warning)
    assert "`data=/etc/passwd`" in said and "only the presenter names a data path" in said
    assert "sign in as the presenter and it is used" in said
    assert at.text_input(key="train_source").value == "bundled" and "data" not in at.query_params
    _sign_in(at)  # a path outside the configured data folders: said, not used
    assert at.text_input(key="train_source").value == "bundled"
    assert "The link's data path is not used" in " ".join(w.value for w in at.warning)


def test_a_presenters_link_opened_before_signing_in_uses_its_data_path(hall: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload or a new tab is a new session, signed out: the link's data path waits for the sign-in."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("HYPERMASK_DATA_DIRS", str(data))
    at = _app("views/train.py", data=str(data / "mnist.npz"))
    assert at.text_input(key="train_source").value == "bundled"
    _sign_in(at)
    assert not at.exception and at.text_input(key="train_source").value == str(data / "mnist.npz")
    assert at.query_params["data"] == str(data / "mnist.npz")
    assert any("comes from the link" in i.value for i in at.info)
    at.run()  # said once
    assert not any("comes from the link" in i.value for i in at.info)
