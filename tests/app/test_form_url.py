"""The Train and Compare forms keep the user's choices across a refresh: they are written into the URL and a
new session (a refresh, a shared link) opens the form with them; bad values are one warning line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.presets import make_config
from tests.app.test_pages import _app, env, pretrained  # noqa: F401


def _form(at, prefix: str, *names: str) -> dict:  # noqa: ANN001
    kinds = {"benchmark": "selectbox", "method": "selectbox", "preset": "selectbox", "device": "selectbox",
             "augment": "checkbox", "hnet": "checkbox", "hidden": "text_input", "source": "text_input"}
    return {n: getattr(at, kinds.get(n, "number_input"))(key=f"{prefix}_{n}").value for n in names}


def test_train_form_survives_a_refresh(env: Path) -> None:  # noqa: F811
    at = _app("views/train.py")
    assert not [k for k in at.query_params if k != "run"]  # the defaults: nothing in the URL
    at.selectbox(key="train_benchmark").set_value("split-digits").run()
    at.selectbox(key="train_method").set_value("hnet").run()
    at.number_input(key="train_iters").set_value(40)
    at.number_input(key="train_n_tasks").set_value(3)
    at.number_input(key="train_beta").set_value(0.02)
    at.text_input(key="train_hidden").set_value("32,16")
    at.run()
    url = {k: at.query_params[k] for k in at.query_params}
    assert url == {"benchmark": "split-digits", "method": "hnet", "iters": "40", "tasks": "3", "beta": "0.02",
                   "hidden": "32,16"}
    again = _app("views/train.py", **url)  # a refresh: a new session on the same URL
    assert not again.exception and not again.warning, [w.value for w in again.warning]
    assert _form(again, "train", "benchmark", "method", "preset", "iters", "n_tasks", "beta", "hidden", "seed") == {
        "benchmark": "split-digits", "method": "hnet", "preset": "demo", "iters": 40, "n_tasks": 3, "beta": 0.02,
        "hidden": "32,16", "seed": 1}
    assert not again.error and not again.button(key="train_start").disabled


def test_bad_values_in_the_url_are_said_and_the_defaults_kept(env: Path) -> None:  # noqa: F811
    at = _app("views/train.py", benchmark="nope", iters="abc", sparsity="150", device="tpu", lr="nan",
              augment="maybe", seed="3")
    assert not at.exception and not at.error
    said = " ".join(w.value for w in at.warning)
    for bad in ("`benchmark=nope`", "`iters=abc`", "`sparsity=150`", "`device=tpu`", "`lr=nan`", "`augment=maybe`"):
        assert bad in said, (bad, said)
    assert len(at.warning) == 6 and all("\n" not in w.value for w in at.warning)
    assert _form(at, "train", "benchmark", "iters", "sparsity", "device", "lr", "augment", "seed") == {
        "benchmark": "split-mnist", "iters": 300, "sparsity": 30.0, "device": "auto", "lr": 0.001, "augment": False,
        "seed": 3}  # the one good value is taken
    assert {k: at.query_params[k] for k in at.query_params} == {"seed": "3"}  # the bad ones left the URL


def test_values_refused_together_are_said_once(env: Path) -> None:  # noqa: F811
    at = _app("views/train.py", benchmark="split-digits", iters="20", eval_every="25")
    assert not at.exception and not at.error
    assert [w.value for w in at.warning] == [
        "Ignored the link's settings iters, eval_every: evaluate every 25 iterations is more than the 20 iterations "
        "per task: the live curves would get one point per task; the preset's values are kept."]
    preset = make_config("split-digits", "hypermask", "demo").train
    assert _form(at, "train", "benchmark", "iters", "eval_every") == {
        "benchmark": "split-digits", "iters": preset.iters_per_task, "eval_every": preset.eval_every}  # 150, 15


def test_compare_form_survives_a_refresh(env: Path) -> None:  # noqa: F811
    at = _app("views/compare.py")
    at.selectbox(key="compare_benchmark").set_value("split-mnist").run()
    at.checkbox(key="compare_hnet").check()
    at.number_input(key="compare_iters").set_value(60)
    at.run()
    url = {k: at.query_params[k] for k in at.query_params}
    assert url == {"benchmark": "split-mnist", "iters": "60", "hnet": "1"}
    again = _app("views/compare.py", **url)
    assert not again.exception and not again.warning
    assert _form(again, "compare", "benchmark", "iters", "hnet") == {"benchmark": "split-mnist", "iters": 60,
                                                                     "hnet": True}
    assert "Start comparison (3 runs)" in again.button(key="compare_start").label


def test_a_whole_number_from_a_link_too_large_is_named_so() -> None:
    from app.components.form_url import _parse

    assert _parse("300", 1, None) == (300, None)
    assert _parse(" -7 ", 1, None) == (-7, None)
    assert _parse("9" * 13, 1, None) == (None, "a whole number too large")
    assert _parse("3.5", 1, None) == (None, "not a whole number")
    assert _parse("1" * 500, 1, None) == (None, "longer than 100 characters")  # not even read as a number


def test_unknown_and_repeated_link_parameters_are_said(env: Path) -> None:  # noqa: F811
    at = _app("views/train.py", colour="red", seed=["2", "3"])
    assert not at.exception and not at.error
    said = [w.value for w in at.warning]
    assert any("`colour=red`" in w and "no such setting" in w for w in said), said
    assert any("`seed` is given 2 times" in w and "`3`" in w for w in said), said
    assert len(said) == 2 and _form(at, "train", "seed") == {"seed": 3}
    assert "colour" not in at.query_params  # dropped: a refresh does not say it again


def test_a_data_path_from_a_link_is_checked_and_pointed_out(env: Path, tmp_path: Path,  # noqa: F811
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "mnist.npz").write_bytes(b"not checked until Start")
    monkeypatch.setenv("HYPERMASK_DATA_DIRS", str(data))
    outside = _app("views/train.py", data="/etc/passwd")
    said = " ".join(w.value for w in outside.warning)
    assert "`data=/etc/passwd`" in said and "not inside the configured data folders" in said
    assert _form(outside, "train", "source") == {"source": "bundled"}
    assert not any("comes from the link" in i.value for i in outside.info)
    inside = _app("views/train.py", data=str(data / "mnist.npz"))
    assert not inside.warning and _form(inside, "train", "source") == {"source": str(data / "mnist.npz")}
    assert any("comes from the link" in i.value for i in inside.info)


def test_a_very_long_link_value_is_quoted_cut_short(env: Path) -> None:  # noqa: F811
    at = _app("views/train.py", run="x" * 5000, iters="9" * 5000)
    assert not at.exception
    said = " ".join(m.value for m in [*at.info, *at.warning])
    assert f"`{'x' * 40}…`" in said and f"`iters={'9' * 40}…`" in said and "x" * 41 not in said
