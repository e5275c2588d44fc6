"""HyperMask Explorer — entry point: `streamlit run app/main.py`.

Sets the page config and registers the pages with `st.navigation`; the Overview page (the default)
shows a shipped pretrained comparison, so something meaningful appears before anyone trains.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# This file runs again for every page a session opens: `abspath`, not `resolve` (a system call per
# path component, every time).
ROOT = Path(os.path.abspath(__file__)).parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts app/ on the path, not the repo root
    sys.path.insert(0, str(ROOT))

# Imported before any page runs: plotly reads sys.modules["pandas"] without the import lock while it
# validates a figure, so a figure built in one session while another session's thread was importing
# pandas met a half-initialised module.
import pandas  # noqa: E402,F401
import streamlit as st  # noqa: E402

from app import page_slots, roles  # noqa: E402
from app.components import plotly_frame, presenter  # noqa: E402
from app.components.config_form import keep_form_values  # noqa: E402

# Not "pages/": that folder name switches Streamlit to its legacy multipage mode, which runs a
# deep-linked page (e.g. a refresh of /train) without this entry point.
PAGES_DIR = ROOT / "app" / "views"
FAVICON = ROOT / "assets" / "favicon.png"


def main() -> None:
    """Configure the app and run the selected page (in turn with other sessions' page scripts,
    `page_slots`)."""
    # Before waiting for a slot: the browser fetches and evaluates plotly.js while this session waits
    # its turn, instead of after its first chart's element arrives.
    plotly_frame.preload()
    with page_slots.page_slot():
        _main()
    _get_training_ready_soon()


def _main() -> None:
    # a file, not a Material icon name: Streamlit fetches those favicons from fonts.gstatic.com
    st.set_page_config(page_title="HyperMask Explorer", page_icon=str(FAVICON), layout="wide")
    overview = st.Page(PAGES_DIR / "overview.py", title="Overview", icon=":material/home:", default=True)
    pages = [
        overview,
        st.Page(PAGES_DIR / "train.py", title="Train (live)", icon=":material/model_training:"),
        st.Page(PAGES_DIR / "compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page(PAGES_DIR / "masks.py", title="Masks", icon=":material/texture:"),
        st.Page(PAGES_DIR / "embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
        st.Page(PAGES_DIR / "tickets.py", title="Tickets", icon=":material/confirmation_number:"),
        st.Page(PAGES_DIR / "sweeps.py", title="Sweeps", icon=":material/grid_view:"),
        st.Page(PAGES_DIR / "runs.py", title="Runs", icon=":material/folder_open:"),
        st.Page(PAGES_DIR / "lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
    ]
    page = st.navigation(pages)
    roles.sidebar()
    keep_form_values()
    presenter.switch()
    page.run()


def _get_training_ready_soon() -> None:
    """Once per server, a second after its first page has run: start the forkserver that training
    processes are forked from (`core.engine.launcher.prewarm_soon`). Its imports take seconds on a
    slow 2-core machine (at the training processes' lower priority, `core.engine.preload`); begun at
    a page's first Start they would delay that run's first curve. Not before the first page: they
    would delay its first chart."""
    from core.engine import launcher

    launcher.prewarm_soon(1.0)


# Streamlit runs this script as `__main__`. A training process started while it runs (the Start
# callback) is handed it as the main module, and multiprocessing re-imports a main module given by path
# in the new process (as `__mp_main__`): there, only the imports above may run.
if __name__ == "__main__":
    main()
