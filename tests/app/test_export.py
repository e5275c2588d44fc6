"""Export for slides: the one-page HTML summary of a shipped run and of a comparison (its figures, the real
metric values, nothing loaded from the network), and the pages that offer it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.components.plotly_frame import BUNDLE
from app.components.summary_export import summary_html
from core.runs import read_events
from tests.app.test_pages import _app, env, pretrained  # noqa: F401

SHIPPED = Path(__file__).resolve().parents[2] / "pretrained"


def _metrics(name: str) -> dict:
    return json.loads((SHIPPED / name / "metrics.json").read_text())


def _table_row(page: str, label: str) -> list[str]:
    """The metric table's cells of run `label`: [tasks done, ACC, BWT, forgetting, (FWT)]."""
    table = re.search(r"<h2>Metrics</h2><table>(.*?)</table>", page).group(1)
    row = re.search(rf"<tr><td>{re.escape(label)}</td>(.*?)</tr>", table).group(1)
    return re.findall(r"<td class=num>(.*?)</td>", row)


def _self_contained(page: str) -> None:
    bundle = BUNDLE.read_text(encoding="utf-8")
    assert page.count(bundle) == 1  # the app's plotly.js bundle, inline, once
    page = page.replace(bundle, "")  # (its own code holds links, e.g. to plotly.com's logo: not loaded)
    assert not re.search(r"<script[^>]*\bsrc=", page), "a script loaded from elsewhere"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "a resource from the network"
    assert page.count("Plotly.newPlot(") == len(re.findall(r"<div class=fig>", page))


def test_summary_of_a_shipped_run_has_its_figures_and_metrics() -> None:
    m = _metrics("split-mnist-hypermask")
    page = summary_html({"HyperMask": read_events(SHIPPED / "split-mnist-hypermask")}, title="HyperMask · Split MNIST")
    _self_contained(page)
    assert page.count("Plotly.newPlot(") == 3
    for title in ("HyperMask: forgetting curves", "HyperMask: loss terms", "HyperMask: accuracy matrix R[i, j]"):
        assert title in page
    assert _table_row(page, "HyperMask") == ["5/5", f"{100 * m['avg_acc']:.1f}%", f"{100 * m['bwt']:+.1f}%",
                                             f"{100 * m['forgetting']:.1f}%", f"{100 * m['fwt']:+.1f}%"]
    assert _table_row(page, "HyperMask")[1] == "97.7%"  # the README's figure
    last = m["acc_matrix"][-1]  # the heatmap's cells are the run's final accuracies
    assert all(f'"{100 * v:.1f}%"' in page for v in last)
    assert "split-mnist-hypermask" in page and "p = 30 % · β = 0.001 · λ = 0.01 · seed 1" in page
    assert re.search(r"HyperMask Explorer · \d{4}-\d\d-\d\d \d\d:\d\d", page)


def test_summary_of_a_comparison_has_every_run() -> None:
    names = {"HyperMask": "split-mnist-hypermask", "Fine-tuning": "split-mnist-finetune", "HNET": "split-mnist-hnet"}
    page = summary_html({label: read_events(SHIPPED / n) for label, n in names.items()}, title="Split MNIST")
    _self_contained(page)
    assert page.count("Plotly.newPlot(") == 2 + len(names)  # curves, metric bars, one matrix per run
    assert "Forgetting curves: accuracy of every seen task" in page and "Continual-learning metrics" in page
    for label, n in names.items():
        m = _metrics(n)
        assert f"{label}: R[i, j]" in page
        assert _table_row(page, label)[1:4] == [f"{100 * m['avg_acc']:.1f}%", f"{100 * m['bwt']:+.1f}%",
                                                f"{100 * m['forgetting']:.1f}%"]
    assert [_table_row(page, label)[1] for label in names] == ["97.7%", "64.4%", "98.0%"]


def test_summary_escapes_names_and_refuses_nothing_to_show() -> None:
    page = summary_html({"<b>x</b>": read_events(SHIPPED / "split-digits-finetune")}, title="<script>alert(1)</script>")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td>" in page
    try:
        summary_html({}, title="none")
    except ValueError as e:
        assert "at least one run" in str(e)
    else:
        raise AssertionError("an empty summary was built")


def test_pages_offer_the_summary(env: Path) -> None:  # noqa: F811
    for page, key in (("views/overview.py", "overview_summary"), ("views/runs.py", "runs_summary"),
                      ("views/compare.py", "compare_saved_summary")):
        at = _app(page)
        assert not at.exception, at.exception
        keys = [b.key for b in at.get("download_button")]
        assert key in keys, (page, keys)


def test_the_summary_file_name_is_safe_on_every_system() -> None:
    from app.components.summary_export import file_name

    assert file_name("20261205-hypermask-split-mnist-s1") == "20261205-hypermask-split-mnist-s1_summary.html"
    assert file_name("a&b's run") == "a_b_s_run_summary.html"
    assert file_name("../../etc/passwd") == "etc_passwd_summary.html"
    assert file_name("&&&") == "hypermask_summary.html"
    assert len(file_name("x" * 1000)) == 120 + len("_summary.html")
