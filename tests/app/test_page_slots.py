"""Page scripts take turns (app.page_slots): a second script waits for the first, a slow page holds
the others back at most MAX_WAIT_S, and a script that ends with an exception gives its slot back."""

from __future__ import annotations

import threading
import time

import pytest

from app import page_slots


def test_a_second_page_script_waits_for_the_first() -> None:
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with page_slots.page_slot() as taken:
            assert taken
            order.append("first in")
            inside.set()
            release.wait(30)
            order.append("first out")

    def second() -> None:
        with page_slots.page_slot():
            order.append("second in")

    a = threading.Thread(target=first)
    a.start()
    assert inside.wait(30)
    b = threading.Thread(target=second)
    b.start()
    time.sleep(0.2)
    assert order == ["first in"]  # the second is waiting, not running
    release.set()
    a.join(30)
    b.join(30)
    assert order == ["first in", "first out", "second in"]


def test_a_slow_page_holds_others_back_only_max_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_slots, "MAX_WAIT_S", 0.3)
    release = threading.Event()
    inside = threading.Event()

    def slow() -> None:
        with page_slots.page_slot():
            inside.set()
            release.wait(30)

    t = threading.Thread(target=slow)
    t.start()
    assert inside.wait(30)
    t0 = time.perf_counter()
    with page_slots.page_slot() as taken:
        waited = time.perf_counter() - t0
    release.set()
    t.join(30)
    assert taken is False and waited >= 0.3  # ran without a slot after the wait, did not block for good
    with page_slots.page_slot() as taken:  # and the slot is free again afterwards
        assert taken


def test_a_script_ending_with_an_exception_gives_its_slot_back() -> None:
    with pytest.raises(RuntimeError):
        with page_slots.page_slot():
            raise RuntimeError("st.rerun / st.switch_page end a script this way")
    with page_slots.page_slot() as taken:
        assert taken
