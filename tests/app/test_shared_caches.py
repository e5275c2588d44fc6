"""The per-server caches a room of visitors shares (app.cached, app.paths): built once, sealed,
renewed when their files change."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import plotly.graph_objects as go

from app import cached, paths
from app.components import plotly_frame


def test_a_shared_figure_is_built_once_for_many_sessions_and_sealed() -> None:
    builds: list[int] = []
    key = ("test-shared", os.getpid(), id(builds))

    def build() -> go.Figure:
        builds.append(1)
        return go.Figure(go.Scatter(y=[1.0, 2.0, 3.0]))

    got: list[go.Figure] = []
    threads = [threading.Thread(target=lambda: got.append(cached.shared_figure(key, build))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(builds) == 1 and len(got) == 8 and all(f is got[0] for f in got)
    data = json.loads(plotly_frame.payload(got[0], {}, 300))
    assert data["figure"]["data"][0]["y"] == [1.0, 2.0, 3.0] and data["height"] == 300
    assert plotly_frame.payload(go.Figure(got[0]), {}, 300) == plotly_frame.payload(got[0], {}, 300)


def test_the_manifest_is_read_again_when_it_changes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": [{"path": "a", "title": "A"}]}))
    assert [e.title for e in paths.read_manifest(tmp_path)] == ["A"]
    assert [e.title for e in paths.read_manifest(tmp_path)] == ["A"]  # from the cache
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": [{"path": "a", "title": "A"},
                                                                 {"path": "b", "title": "B"}]}))
    os.utime(tmp_path / "manifest.json", ns=(1, 10**18))  # a new modification time, however fast the clock
    assert [e.title for e in paths.read_manifest(tmp_path)] == ["A", "B"]


def test_events_are_read_again_when_the_file_changes(tmp_path: Path) -> None:
    src = Path(paths.read_manifest()[0].path)
    (tmp_path / "events.jsonl").write_bytes((src / "events.jsonl").read_bytes())
    first = cached.events(tmp_path)
    assert len(first) > 5 and cached.events(tmp_path) is first
    lines = (src / "events.jsonl").read_text().splitlines()
    (tmp_path / "events.jsonl").write_text("\n".join(lines[:5]) + "\n")
    os.utime(tmp_path / "events.jsonl", ns=(1, 10**18))
    assert len(cached.events(tmp_path)) == 5


def test_same_keys_an_object_by_identity_not_by_value(tmp_path: Path) -> None:
    a, b = [1.0, [2.0]], [1.0, [2.0]]  # equal values, unhashable
    assert cached.Same(a) == cached.Same(a) and hash(cached.Same(a)) == hash(cached.Same(a))
    assert cached.Same(a) != cached.Same(b) and cached.Same(a) != a
    # what a saved comparison's figures are keyed by: a run's events, the same tuple until the file changes
    src = Path(paths.read_manifest()[0].path)
    (tmp_path / "events.jsonl").write_bytes((src / "events.jsonl").read_bytes())
    key = cached.Same(cached.events(tmp_path))
    assert {key: 1}.get(cached.Same(cached.events(tmp_path))) == 1
    (tmp_path / "events.jsonl").write_text((src / "events.jsonl").read_text().splitlines()[0] + "\n")
    os.utime(tmp_path / "events.jsonl", ns=(1, 10**18))
    assert {key: 1}.get(cached.Same(cached.events(tmp_path))) is None
