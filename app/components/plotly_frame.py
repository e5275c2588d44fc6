"""Live Plotly charts that update in place: a tiny Streamlit component (v1 protocol, no build step).

`st.plotly_chart` derives its element identity from the figure itself, so every refresh of a live chart
with new data mounts a new chart: the plot blinks and a user's zoom is lost. The component in
`plotly_live/index.html` keeps one Plotly div per key and calls `Plotly.react` on it with each new
figure, which keeps `layout.uirevision` state (zoom, hidden traces) across refreshes.

Streamlit serves a component's files only from inside its folder (symlinks are resolved and refused),
so the folder is assembled once in a user cache directory: our `index.html` plus `plotly.min.js` from
the installed plotly package (`plotly.offline.get_plotlyjs`), so the version always matches the
Python library and nothing is downloaded. If no writable cache folder exists, `live_chart` falls back
to `st.plotly_chart`.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from streamlit.components import v1 as components

from app import paths

SOURCE_DIR = Path(__file__).parent / "plotly_live"
DEFAULT_HEIGHT = 450  # px, Plotly's default figure height


@functools.lru_cache(maxsize=1)
def component_dir() -> Path | None:
    """The component folder (index.html + plotly.min.js), built on first use; None if no cache
    directory is writable. The folder name carries a hash of both files' sources, so a new plotly or
    a changed index.html gets a fresh folder."""
    import plotly
    from plotly.offline import get_plotlyjs

    html = (SOURCE_DIR / "index.html").read_bytes()
    tag = hashlib.sha256(html + plotly.__version__.encode()).hexdigest()[:16]
    for root in paths.cache_roots():
        d = root / f"plotly_live-{tag}"
        if (d / "index.html").is_file() and (d / "plotly.min.js").is_file():
            return d
        try:
            tmp = root / f".plotly_live-{tag}.{os.getpid()}"
            tmp.mkdir(parents=True, exist_ok=True)
            (tmp / "plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")
            (tmp / "index.html").write_bytes(html)
            try:
                os.replace(tmp, d)  # atomic; another process may have won the race
            except OSError:
                if not (d / "plotly.min.js").is_file():
                    raise
            return d
        except OSError:
            continue
    return None


def live_chart(fig: go.Figure, key: str, config: dict[str, Any]) -> bool:
    """Draw `fig` in the in-place component under `key` (the same key keeps the same chart across
    reruns). `config` is Plotly's config (modebar, PNG download). Height: `fig.layout.height`, else
    450 px. Returns False, having drawn nothing, when the component folder could not be built."""
    folder = component_dir()
    if folder is None:
        return False
    component = components.declare_component("plotly_live", path=str(folder))
    height = int(fig.layout.height or DEFAULT_HEIGHT)
    component(figure=fig.to_json(), config=config, height=height, key=key, default=None)
    return True
