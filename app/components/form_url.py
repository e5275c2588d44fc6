"""The Train and Compare forms' choices in the page's URL, so that a refresh — which starts a new Streamlit
session, with empty session state — opens the form as the user left it, and a link carries a setup.

Only what differs from the defaults is written (`?benchmark=permuted-mnist&iters=500`): the stream
choices (benchmark, method, preset) against the page's defaults, every other field against the chosen
preset's value. A new session reads them back before the form's widgets are drawn (`restore`); a value
the form would not accept (unknown option, not a number, refused by the config's own checks) is said in
one warning line and the default is kept, never a traceback; so is a parameter the page does not know
(then dropped from the URL) and one given twice (the last value is used). Parameter names are the
form's field names (`tasks` for `n_tasks`, `data` for the data source, as the CLI's flags); each page
has its own URL, so Train and Compare never read each other's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from app import state
from app.components.presenter import URL_FLAG

_PARAM = {"n_tasks": "tasks", "source": "data"}  # URL name where it is not the field's own (as the CLI's)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
MAX_TEXT = 300  # characters: a text field's value from a link (hidden sizes, a data path)
#: Parameters every page may carry: presenter mode, and Streamlit's own for an embedded app.
APP_PARAMS = (URL_FLAG, "embed", "embed_options")


@dataclass(frozen=True)
class FormSpec:
    """One form: its widget key prefix, its stream choices with their allowed values and defaults, its
    other fields (each a widget `<prefix>_<field>`), the options of its select fields, the chosen preset's
    value of every field (`preset_values()`, read from session state: its type is the type a URL value is
    parsed to), and `check(values)`, which raises ValueError (or TypeError) for field values the form
    would refuse. `page_params` are the page's own URL parameters (not the form's, e.g. `run`);
    `refused` maps a parameter this session may not set to why (a visitor's data path)."""

    prefix: str
    choices: Mapping[str, Sequence[str]]
    defaults: Mapping[str, str]
    fields: Sequence[str]
    preset_values: Callable[[], dict[str, Any]]
    check: Callable[[dict[str, Any]], None]
    options: Mapping[str, Sequence[str]] = field(default_factory=dict)
    page_params: Sequence[str] = ()
    refused: Mapping[str, str] = field(default_factory=dict)

    def key(self, name: str) -> str:
        return f"{self.prefix}_{name}"


def param(name: str) -> str:
    """The URL parameter of form field `name`."""
    return _PARAM.get(name, name)


def _parse(raw: str, like: Any, options: Sequence[str] | None) -> tuple[Any, str | None]:
    """`raw` (a URL value) as the type of `like`; (None, why) when it cannot be."""
    if options is not None:
        return (raw, None) if raw in options else (None, f"not one of {', '.join(options)}")
    if isinstance(like, bool):
        low = raw.strip().lower()
        return (True, None) if low in _TRUE else (False, None) if low in _FALSE else (None, "not 1 or 0")
    if isinstance(like, int):
        if len(raw) > 100:
            return None, "longer than 100 characters"
        if not re.fullmatch(r"\s*-?\d+\s*", raw):
            return None, "not a whole number"
        return (int(raw), None) if len(raw.strip().lstrip("-")) <= 12 else (None, "a whole number too large")
    if isinstance(like, float):
        try:
            x = float(raw)
        except ValueError:
            return None, "not a number"
        return (x, None) if math.isfinite(x) else (None, "not a finite number")
    return (raw, None) if len(raw) <= MAX_TEXT else (None, f"longer than {MAX_TEXT} characters")


def _ignored(name: str, raw: str, why: str, kept: bool = True) -> None:
    tail = "; the default is kept." if kept else "."
    st.warning(f"Ignored `{name}={state.short(raw)}` from the link: {why}{tail}", icon=":material/link_off:")


def _odd_params(spec: FormSpec) -> None:
    """Say (one warning line each) which of the URL's parameters are not taken: unknown to the page
    or refused to this session (both dropped from the URL, so a refresh does not say it again), or
    given more than once (the last value is used, as Streamlit's `st.query_params` reads it)."""
    url = st.query_params
    known = {*spec.choices, *(param(f) for f in spec.fields), *spec.page_params, *APP_PARAMS}
    for name in list(url.keys()):
        values = url.get_all(name)
        last = values[-1] if values else ""
        if name in spec.refused or name not in known:
            _ignored(name, last, spec.refused.get(name, "this page has no such setting"), kept=False)
            del url[name]
        elif len(values) > 1:
            st.warning(f"`{name}` is given {len(values)} times in the link; the last value, `{state.short(last)}`, "
                       "is used.", icon=":material/link:")


def _refusal(spec: FormSpec, values: dict[str, Any]) -> str | None:
    try:
        spec.check(values)
    except (ValueError, TypeError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


def restore(spec: FormSpec) -> None:
    """Put the form's choices named in the URL into session state: call once, in a session that has not
    drawn the form yet, after its defaults are in state and before its widgets are drawn. Stream choices
    first (then the chosen preset's values), then the fields; each bad value is one `st.warning` line."""
    _odd_params(spec)
    url = st.query_params
    for name, allowed in spec.choices.items():
        raw = url.get(name)
        if raw is not None and raw in allowed:
            state.put(spec.key(name), raw)
        elif raw is not None:
            _ignored(name, raw, f"not one of {', '.join(allowed)}")
    base = spec.preset_values()
    for name in spec.fields:  # the preset of the (perhaps new) choices, as picking it in the form would
        state.put(spec.key(name), base[name])
    chosen: dict[str, Any] = {}
    for name in spec.fields:
        raw = url.get(param(name))
        if raw is None:
            continue
        value, why = _parse(raw, base[name], spec.options.get(name))
        if why is None:
            chosen[name] = value
        else:
            _ignored(param(name), raw, why)
    if chosen and _refusal(spec, {**base, **chosen}):
        for name in list(chosen):  # which value is refused on its own, against the preset's others
            why = _refusal(spec, {**base, name: chosen[name]})
            if why:
                _ignored(param(name), str(url.get(param(name))), why)
                del chosen[name]
        why = _refusal(spec, {**base, **chosen}) if chosen else None
        if why:  # each is fine alone, not together (e.g. evaluate every > iterations)
            st.warning(f"Ignored the link's settings {', '.join(param(n) for n in chosen)}: {why}; the preset's "
                       "values are kept.", icon=":material/link_off:")
            chosen = {}
    for name, value in chosen.items():
        state.put(spec.key(name), value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        r = repr(value)
        return r[:-2] if r.endswith(".0") else r
    return str(value)


def remember(spec: FormSpec) -> None:
    """Write the form's current choices into the URL (after its widgets are drawn): each stream choice and
    field that differs from its default; a parameter back at its default is dropped."""
    for name, default in spec.defaults.items():
        value = state.get(spec.key(name))
        state.keep_in_url(name, None if value in (None, default) else str(value))
    base = spec.preset_values()
    for name in spec.fields:
        value = state.get(spec.key(name))
        state.keep_in_url(param(name), None if value is None or value == base.get(name) else _text(value))
