"""The app server every browser test module drives (one per module): `streamlit run app/main.py` on a
free port with an empty runs folder. Without Chromium the tests are skipped, except in CI, where
that is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser.browser_helpers import StreamlitServer, missing_browser


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    why = missing_browser()
    if why is not None:
        if _in_ci():
            pytest.fail(f"browser test cannot run in CI: {why}")
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("browser")
    srv = StreamlitServer(tmp / "runs", log_path=tmp / "streamlit.log").start(timeout=60)
    try:
        yield srv
    finally:
        srv.stop()
