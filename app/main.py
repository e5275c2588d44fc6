"""HyperMask Explorer — entry point: `streamlit run app/main.py`.

Sets the page config and registers the pages with `st.navigation`; the Overview page (the default)
shows a shipped pretrained comparison, so something meaningful appears before anyone trains.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts app/ on the path, not the repo root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.components.config_form import keep_form_values  # noqa: E402

# Not "pages/": that folder name switches Streamlit to its legacy multipage mode, which runs a
# deep-linked page (e.g. a refresh of /train) without this entry point.
PAGES_DIR = Path(__file__).resolve().parent / "views"


@functools.lru_cache(maxsize=1)
def _plotly_chunk() -> str | None:
    """File name of Streamlit's Plotly chunk in this install (looked up once per server)."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    return next((p.name for p in sorted(folder.glob("PlotlyChart.*.js"))), None)


def preload_plotly() -> None:
    """Start loading Streamlit's Plotly chunk while the page's script is still running.

    The browser fetches and evaluates that 4.7 MB chunk only when the first Plotly element arrives,
    which on a cold start puts about 0.3 s of download on the way to the first chart. An `import()`
    of the same URL at the top of the page starts it at once; the later import by Streamlit reuses
    the same module. A performance hint only: if this Streamlit build has no such file, nothing
    is added to the page."""
    chunk = _plotly_chunk()
    if chunk is not None:
        st.html(f'<script>import(new URL("static/js/{chunk}", document.baseURI).href)</script>',
                unsafe_allow_javascript=True)


def main() -> None:
    """Configure the app and run the selected page."""
    st.set_page_config(page_title="HyperMask Explorer", page_icon=":material/texture:", layout="wide")
    pages = [
        st.Page(PAGES_DIR / "overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page(PAGES_DIR / "train.py", title="Train (live)", icon=":material/model_training:"),
        st.Page(PAGES_DIR / "compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page(PAGES_DIR / "masks.py", title="Masks", icon=":material/texture:"),
        st.Page(PAGES_DIR / "embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
        st.Page(PAGES_DIR / "runs.py", title="Runs", icon=":material/folder_open:"),
    ]
    preload_plotly()  # the first chart is on its way sooner
    page = st.navigation(pages)
    keep_form_values()
    page.run()
    # Import pandas once the page is drawn (the Overview needs none, so the first chart is not kept
    # waiting 0.3 s). Plotly looks pandas up in sys.modules without the import lock, so a pandas import
    # in flight elsewhere (scikit-learn on the Embeddings page, tables on the Runs page) while a figure
    # is serialised would hand plotly a half-initialised module; after this line it is complete.
    import pandas  # noqa: F401


main()
