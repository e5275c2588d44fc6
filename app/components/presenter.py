"""Presenter mode: a sidebar switch and a URL flag (`?present=1`) for a projector.

When on, every chart shown through `app.components.ui.chart` is restyled by
`charts.style.for_projector` (large type on titles, axes, ticks, legends and annotations, the
Okabe–Ito colour-blind-safe palette), rows of charts give each chart the full width
(`ui.wrapping_row`), and the page's own text is larger. The lessons page adds arrow-key navigation.
"""

from __future__ import annotations

import streamlit as st

KEY = "presenter"  # the sidebar toggle's widget key
URL_FLAG = "present"
PAGE_CSS = ("<style>.stMainBlockContainer { font-size: 1.35rem; } "
            ".stMainBlockContainer p, .stMainBlockContainer li { font-size: 1.35rem; line-height: 1.5; } "
            ".stMainBlockContainer h1 { font-size: 3rem; } .stMainBlockContainer h2 { font-size: 2.3rem; } "
            ".stMainBlockContainer h3 { font-size: 1.9rem; } "
            # the metric tables (Markdown) and st.metric values, as large as the text around them
            ".stMainBlockContainer td, .stMainBlockContainer th { font-size: 1.35rem; } "
            '.stMainBlockContainer [data-testid="stMetricValue"] { font-size: 3rem; } '
            '.stMainBlockContainer [data-testid="stMetricLabel"] p { font-size: 1.35rem; }</style>')


def _sync_url() -> None:
    if st.session_state.get(KEY):
        st.query_params[URL_FLAG] = "1"
    elif URL_FLAG in st.query_params:
        del st.query_params[URL_FLAG]


def switch() -> None:
    """The sidebar switch, started from the URL flag (`?present=1`, also `true`/`yes`/`on`); call once
    per run before the page. The flag follows the switch, so a link keeps presenter mode."""
    flag = str(st.query_params.get(URL_FLAG, "")).lower() in ("1", "true", "yes", "on")
    # a link with the flag turns it on (the switch's callback drops the flag when it is turned off);
    # re-assigned otherwise, so the value survives page switches (the widget is redrawn on every page)
    st.session_state[KEY] = flag or bool(st.session_state.get(KEY, False))
    st.sidebar.toggle("Presenter mode", key=KEY, on_change=_sync_url,
                      help="for a projector: large type on every chart, one chart per screen width, a "
                           "colour-blind-safe palette, arrow keys step through a lesson (also ?present=1)")
    _sync_url()
    if on():
        st.html(PAGE_CSS)


def on() -> bool:
    """True while presenter mode is on in this session."""
    return bool(st.session_state.get(KEY, False))
