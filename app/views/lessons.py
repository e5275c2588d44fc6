"""Lessons: short guided lessons on continual learning, one step a screen (text, one visual, one thing
to try, what you should see). The lesson and step live in the URL (`?lesson=<slug or number>&step=<n>`,
steps from 1), so a link opens a given step; a bad value is said in one line and the lesson starts over.
Previous / Next buttons, and the arrow keys (a small script clicks them), move through the steps.
Content: `app.lessons.content`; visuals: `app.lessons.visuals`.
"""

from __future__ import annotations

import streamlit as st

from app import state
from app.components import presenter
from app.lessons import visuals
from app.lessons.content import LESSONS, Lesson, find

# ArrowRight / PageDown → Next, ArrowLeft / PageUp → Previous. The listener is added once to the app's
# document (this iframe is same-origin) and looks the buttons up on each key press, so it survives
# reruns; it ignores keys typed into a field and keys with a modifier, and does nothing on other pages.
KEYS_JS = """<script>
(function () {
  const host = window.parent;
  if (host.__hmLessonKeys) return;
  host.__hmLessonKeys = true;
  // A new step opens at its top (its title and text), not where the last one was scrolled to.
  host.document.addEventListener("click", function (e) {
    const t = e.target;
    if (!t || !t.closest || !t.closest(".st-key-lesson_next button, .st-key-lesson_prev button")) return;
    host.scrollTo(0, 0);
    host.document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"], section.main')
      .forEach(function (el) { el.scrollTop = 0; });
  }, true);
  host.document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const t = e.target, tag = ((t && t.tagName) || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || (t && t.isContentEditable)) return;
    const key = (e.key === "ArrowRight" || e.key === "PageDown") ? "lesson_next"
              : (e.key === "ArrowLeft" || e.key === "PageUp") ? "lesson_prev" : null;
    if (!key) return;
    const button = host.document.querySelector(".st-key-" + key + " button");
    if (!button || button.disabled) return;
    e.preventDefault();
    button.click();
  });
})();
</script>"""


def _position() -> tuple[Lesson, int]:
    """The lesson and 0-based step the URL names; a bad `lesson` or `step` is said in one line and
    falls back to the start (and the URL is corrected)."""
    raw_lesson, raw_step = st.query_params.get("lesson"), st.query_params.get("step")
    lesson = find(raw_lesson) if raw_lesson else LESSONS[0]
    if lesson is None:
        st.warning(f"No lesson named `{state.short(raw_lesson)}` (lessons: {', '.join(l.slug for l in LESSONS)}, "
                   f"or 1–{len(LESSONS)}); starting at the first lesson.", icon=":material/link_off:")
        lesson, raw_step = LESSONS[0], None
    step = 0
    if raw_step:
        digits = raw_step.strip()
        n = int(digits) if digits.isdigit() and len(digits) <= 6 else 0  # int() refuses over 4,300 digits
        if 1 <= n <= len(lesson.steps):
            step = n - 1
        else:
            st.warning(f"`step={state.short(raw_step)}` is not a step of “{lesson.title}” "
                       f"(1–{len(lesson.steps)}); showing step 1.", icon=":material/link_off:")
    _go(lesson, step)
    return lesson, step


def _go(lesson: Lesson, step: int) -> None:
    """Put a lesson and 0-based step into the URL."""
    if st.query_params.get("lesson") != lesson.slug:
        st.query_params["lesson"] = lesson.slug
    if st.query_params.get("step") != str(step + 1):
        st.query_params["step"] = str(step + 1)


def _move(lesson: Lesson, step: int, delta: int) -> None:
    """Previous / Next: a step back or on; past the last step, the next lesson's first step."""
    k = LESSONS.index(lesson)
    target = step + delta
    if target >= len(lesson.steps) and k + 1 < len(LESSONS):
        _go(LESSONS[k + 1], 0)
    elif target < 0 and k > 0:
        _go(LESSONS[k - 1], len(LESSONS[k - 1].steps) - 1)
    else:
        _go(lesson, max(0, min(target, len(lesson.steps) - 1)))


def _pick() -> None:
    _go(find(st.session_state["lesson_pick"]) or LESSONS[0], 0)


def main() -> None:
    st.title("Lessons")
    lesson, step = _position()
    st.session_state["lesson_pick"] = lesson.slug
    st.selectbox("Lesson", [l.slug for l in LESSONS], key="lesson_pick", on_change=_pick,
                 format_func=lambda slug: (find(slug) or LESSONS[0]).title)
    st.caption(lesson.goal + (" · Arrow keys ← → move between steps." if presenter.on() else ""))
    s = lesson.steps[step]
    st.subheader(f"Step {step + 1} of {len(lesson.steps)} · {s.title}")
    st.markdown(s.text)
    with st.container(key="lesson_visual"):
        visuals.draw(s.visual)
    left, right = st.columns(2)
    left.info(f"**Try this:** {s.try_}", icon=":material/touch_app:")
    right.success(f"**What you should see:** {s.see}", icon=":material/visibility:")
    k = LESSONS.index(lesson)
    first, last = k == 0 and step == 0, k == len(LESSONS) - 1 and step == len(lesson.steps) - 1
    nav = st.container(horizontal=True, gap="medium")
    nav.button("Previous", key="lesson_prev", icon=":material/arrow_back:", disabled=first,
               on_click=_move, args=(lesson, step, -1))
    nav.button("Next", key="lesson_next", icon=":material/arrow_forward:", disabled=last, type="primary",
               on_click=_move, args=(lesson, step, 1),
               help="the next step; after the last step, the next lesson")
    with st.container(key="lesson_keys", height=1, border=False):  # the script takes no room
        st.iframe(KEYS_JS, height=1)


main()
