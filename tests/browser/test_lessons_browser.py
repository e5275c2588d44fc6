"""A whole lesson walked with the keyboard in presenter mode, in a real browser (headless Chromium).

Opens `/lessons?lesson=forgetting&step=1&present=1`, checks each step's visual (its Plotly chart, with
the projector's large type), moves on with the right arrow key to the end of the lesson (each new step
opens at the top of the page, however far the last was scrolled) and back one step with the left arrow. Skips without Chromium locally, fails in CI (like test_browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.lessons.content import FORGETTING
from tests.browser.browser_helpers import (StreamlitServer, chrome, errors, has_plot, plot_div_script,
                                           wait_for, wait_idle)

pytestmark = pytest.mark.browser

# each step's visual → the key of the chart it draws (app/lessons/visuals.py)
CHART_OF = {"ft_forgetting": "lesson_ft_forgetting", "ft_matrix": "lesson_finetune_matrix",
            "compare_hm_ft": "lesson_compare"}


def _url_step(driver: Any) -> str:
    return str(driver.execute_script("return new URLSearchParams(window.location.search).get('step');"))


def _font_size(driver: Any, key: str) -> float:
    return float(driver.execute_script(plot_div_script(
        "const d = window.__hmPlotDiv(arguments[0]); return d && d._fullLayout ? d._fullLayout.font.size : 0;"),
        key))


MAIN_SCROLL_JS = """const m = document.querySelector('[data-testid="stMain"]');
if (arguments[0] !== null && m) m.scrollTop = arguments[0];
return m ? m.scrollTop : 0;"""


def _press(driver: Any, key: str) -> None:
    """Press `key` on the page itself (a focused widget, e.g. the button clicked last, is blurred first)."""
    from selenium.webdriver.common.action_chains import ActionChains

    driver.execute_script("if (document.activeElement) document.activeElement.blur(); window.focus();")
    ActionChains(driver).send_keys(key).perform()


def test_walk_a_lesson_with_the_keyboard_in_presenter_mode(server: StreamlitServer, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    driver = chrome(tmp_path / "profile")
    try:
        driver.get(server.url + "/lessons?lesson=forgetting&step=1&present=1")
        for k, step in enumerate(FORGETTING.steps):
            key = CHART_OF[step.visual]
            wait_for(lambda: _url_step(driver) == str(k + 1), 60, f"step {k + 1} in the URL")
            wait_for(lambda: has_plot(driver, key), 90, f"step {k + 1}'s chart {key}")
            wait_idle(driver, timeout=60)
            assert not errors(driver), errors(driver)
            assert step.title in driver.find_element("css selector", "h3").text
            assert _font_size(driver, key) >= 20, "presenter mode: large type on the chart"
            if k > 0:  # it was scrolled down before the key press: the new step opens at its top
                assert driver.execute_script(MAIN_SCROLL_JS, None) == 0
            if k + 1 < len(FORGETTING.steps):
                assert driver.execute_script(MAIN_SCROLL_JS, 10_000) > 0  # scrolled to the bottom (the Next button)
                _press(driver, Keys.ARROW_RIGHT)
        _press(driver, Keys.ARROW_LEFT)
        wait_for(lambda: _url_step(driver) == str(len(FORGETTING.steps) - 1), 60, "one step back")
        wait_for(lambda: has_plot(driver, CHART_OF[FORGETTING.steps[-2].visual]), 90, "its chart again")
    finally:
        driver.quit()
