"""Configuration forms: `*_ui()` functions draw widgets and return a validated RunConfig or a message.

The config is built exactly as the CLI builds it: `core.presets.make_config(benchmark, method,
preset, source, seed)`, then `dataclasses.replace` with the overrides. The config dataclasses validate
in `__post_init__`; their `ValueError` becomes the form's error message, and the caller keeps the
Start button disabled. Every widget key is `<prefix>_<field>`, stable for tests.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from app import roles, state
from app.components import form_url
from core.config import BENCHMARKS, DEVICES, METHODS, RunConfig, parse_sizes, rename_fields
from core.presets import PRESETS, make_config

METHOD_LABELS = {"hypermask": "HyperMask", "finetune": "Fine-tuning", "hnet": "HNET"}
BENCHMARK_LABELS = {"split-digits": "Split Digits (8×8, seconds)", "split-mnist": "Split MNIST",
                    "permuted-mnist": "Permuted MNIST"}
MAX_ITERS = 100_000  # per task, in the app: a lecture should not start a day-long run by accident
MNIST_BENCHMARKS = ("split-mnist", "permuted-mnist")

# field → (label, help); the numeric fields' widget types follow the preset's value types.
_FIELDS: dict[str, tuple[str, str]] = {
    "seed": ("Seed", "seeds the data split, permutations, initialisation and batch order"),
    "source": ("Data", "'bundled' (5,000 MNIST images, offline) or a path to full MNIST (mnist.npz or IDX folder)"),
    "n_tasks": ("Tasks", "number of tasks in the stream (split: at most 5)"),
    "iters": ("Iterations per task", "optimiser steps on each task"),
    "batch_size": ("Batch size", "training mini-batch size"),
    "lr": ("Learning rate", "Adam learning rate (fresh Adam for every task)"),
    "eval_every": ("Evaluate every", "iterations between live evaluations of all seen tasks (one Step)"),
    "sparsity": ("Mask sparsity p (%)", "percent of each layer's mask entries set to zero, in [0, 100)"),
    "beta": ("β (hypernetwork regulariser)", "weight of R_hnet, which keeps earlier tasks' masks fixed"),
    "lam": ("λ (target L1 regulariser)", "weight of R_target, which limits changes of the target weights"),
    "hidden": ("Target hidden sizes", "widths of the target network's hidden layers, e.g. 64,64"),
    "embedding_dim": ("Task embedding size d", "size of each task embedding e_t fed to the hypernetwork"),
    "augment": ("Random-crop augmentation", "random 28-pixel crop with 4-pixel padding (MNIST only)"),
    "device": ("Device", "where the run trains: auto (a CUDA GPU when this server has one, else the CPU), "
                         "cpu or cuda; saved runs open anywhere"),
}


@dataclass(frozen=True)
class FormResult:
    """What a form returns: a config (or, for Compare, one per method) or an error message."""

    config: RunConfig | None
    error: str | None
    configs: dict[str, RunConfig] | None = None


def _key(prefix: str, name: str) -> str:
    return f"{prefix}_{name}"


def _values(cfg: RunConfig) -> dict[str, Any]:
    """Widget values for every field, read from a config."""
    return {
        "seed": cfg.train.seed, "source": cfg.data.source, "n_tasks": cfg.data.tasks,
        "iters": cfg.train.iters_per_task, "batch_size": cfg.train.batch_size, "lr": float(cfg.train.lr),
        "eval_every": cfg.train.eval_every, "sparsity": float(cfg.mask.sparsity), "beta": float(cfg.mask.beta),
        "lam": float(cfg.mask.lam), "hidden": ",".join(str(h) for h in cfg.target.hidden),
        "embedding_dim": cfg.hyper.embedding_dim, "augment": bool(cfg.data.augment), "device": cfg.train.device,
    }


def keep_form_values() -> None:
    """Call once per run, before the page: re-assign the form fields so that Streamlit keeps what the
    user typed while another page (where these widgets are not drawn) is open."""
    names = ["benchmark", "method", "preset", "hnet", *_FIELDS]
    for prefix in ("train", "compare"):
        for name in names:
            key = _key(prefix, name)
            if key in st.session_state:
                st.session_state[key] = st.session_state[key]


def _preset_config(prefix: str) -> RunConfig:
    return make_config(state.get(_key(prefix, "benchmark"), "split-digits"),
                       state.get(_key(prefix, "method"), "hypermask"),
                       state.get(_key(prefix, "preset"), "demo"))


def _reset_fields(prefix: str) -> None:
    """on_change of benchmark / method / preset: load the preset's values into the fields."""
    kept = {name: state.get(_key(prefix, name)) for name in ("seed", "source", "device")}
    for name, value in _values(_preset_config(prefix)).items():
        state.put(_key(prefix, name), value)
    for name, value in kept.items():  # the user's, not the preset's
        if value is not None:
            state.put(_key(prefix, name), value)


#: The fields of each form, other than benchmark / method / preset (widget keys `<prefix>_<field>`).
TRAIN_FIELDS = ("seed", "source", "device", "n_tasks", "iters", "eval_every", "sparsity", "beta", "lam", "hidden",
                "batch_size", "embedding_dim", "lr", "augment")
COMPARE_FIELDS = ("seed", "source", "device", "n_tasks", "iters", "eval_every")


def _defaults(prefix: str, with_method: bool) -> dict[str, str]:
    # Train: Split MNIST · demo, about a minute at the page's default pace; Compare: Split Digits (seconds)
    return {"benchmark": "split-mnist" if prefix == "train" else "split-digits",
            **({"method": "hypermask"} if with_method else {}), "preset": "demo"}


def _url_spec(prefix: str, with_method: bool) -> form_url.FormSpec:
    """What of the form goes into the URL (`form_url`): a data path only in the presenter's (a visitor's
    form is fixed to the bundled data, and a server path has no place in a link handed to a room)."""
    fields = [f for f in (TRAIN_FIELDS if with_method else (*COMPARE_FIELDS, "hnet"))
              if f != "source" or roles.is_presenter()]
    method = (lambda: state.get(_key(prefix, "method"), "hypermask")) if with_method else (lambda: "hypermask")
    choices = {"benchmark": BENCHMARKS, **({"method": METHODS} if with_method else {}), "preset": PRESETS}
    refused = {} if roles.is_presenter() else {
        form_url.param("source"): "only the presenter names a data path (visitors train on the bundled data)"
        + ("; sign in as the presenter and it is used" if roles.presenter_password() else "")}
    return form_url.FormSpec(prefix, choices, _defaults(prefix, with_method), fields,
                             lambda: {**_values(_preset_config(prefix)), "hnet": False},
                             lambda v: _check_link(prefix, method(), v), options={"device": DEVICES},
                             page_params=("run",) if with_method else ("runs",), refused=refused)


def _check_link(prefix: str, method: str, v: dict[str, Any]) -> None:
    """Refuse (ValueError) what a link sets that the form would refuse at Start: the config's own
    checks, the app's limits and a data path outside the configured data folders."""
    _build(prefix, method, v)
    problem = roles.data_path_problem(str(v.get("source", "bundled")).strip())
    if problem:
        raise ValueError(problem)


def _init(prefix: str, with_method: bool) -> None:
    """Give the form's widgets their starting values; a session's first drawing of the form takes the
    choices its URL names (a refresh starts a new session: `form_url`)."""
    fresh = _key(prefix, "benchmark") not in st.session_state
    for name, value in _defaults(prefix, with_method).items():
        state.init_default(_key(prefix, name), value)
    for name, value in _values(_preset_config(prefix)).items():
        state.init_default(_key(prefix, name), value)
    pending = f"_{prefix}_link_data"  # a data path in a link opened before signing in as the presenter
    if fresh:
        link_data = st.query_params.get(form_url.param("source"))
        if link_data is not None and len(link_data) <= form_url.MAX_TEXT and not roles.is_presenter():
            state.put(pending, link_data)  # longer: refused as any too long a value from a link
        form_url.restore(_url_spec(prefix, with_method))
        source = str(state.get(_key(prefix, "source"), "bundled"))
        if source != "bundled" and st.query_params.get(form_url.param("source")) == source:
            _from_link(source)
    elif state.get(pending) is not None and roles.is_presenter():
        source = str(st.session_state.pop(pending)).strip()
        problem = roles.data_path_problem(source)
        if problem:
            st.warning(f"The link's data path is not used: {problem}.", icon=":material/link_off:")
        else:
            state.put(_key(prefix, "source"), source)
            st.query_params[form_url.param("source")] = source
            _from_link(source)


def _from_link(source: str) -> None:
    st.info(f"The data path `{source}` comes from the link: check it before you start.", icon=":material/link:")


def _number(prefix: str, name: str, *, fmt: str | None = None, step: Any = None, disabled: bool = False) -> Any:
    label, help_ = _FIELDS[name]
    kw: dict[str, Any] = {"format": fmt} if fmt else {}
    if step is not None:
        kw["step"] = step
    # value=None: a non-finite entry (e.g. "nan") or a cleared field becomes None, which
    # `_check_app_limits` refuses with a message, instead of Streamlit's silent reset to 0.0
    return st.number_input(label, value=None, key=_key(prefix, name), help=help_, disabled=disabled, **kw)


def _stream_ui(prefix: str, with_method: bool) -> tuple[str, str]:
    """Benchmark, method, preset selectors; changing one reloads the preset's values below."""
    cols = st.columns(3 if with_method else 2)
    bench = cols[0].selectbox("Benchmark", BENCHMARKS, key=_key(prefix, "benchmark"),
                              format_func=lambda b: BENCHMARK_LABELS.get(b, b),
                              on_change=_reset_fields, args=(prefix,))
    if with_method:
        cols[1].selectbox("Method", METHODS, key=_key(prefix, "method"),
                          format_func=lambda m: METHOD_LABELS.get(m, m), on_change=_reset_fields, args=(prefix,))
    cols[-1].selectbox("Preset", PRESETS, key=_key(prefix, "preset"), on_change=_reset_fields, args=(prefix,),
                       help="demo: seconds to minutes on a laptop CPU; paper: the authors' settings (hours on CPU)")
    st.caption("Changing benchmark, method or preset reloads the preset's values below.")
    return bench, state.get(_key(prefix, "method"), "hypermask")


def _schedule_ui(prefix: str, bench: str) -> None:
    c = st.columns(4)
    with c[0]:
        _number(prefix, "n_tasks", step=1)
    with c[1]:
        _number(prefix, "iters", step=10)
    with c[2]:
        _number(prefix, "eval_every", step=5)
    with c[3]:
        _number(prefix, "seed", step=1)
    c = st.columns([3, 1])
    label, help_ = _FIELDS["source"]
    if not roles.is_presenter():  # visitors name no server path (nor learn which exist)
        state.put(_key(prefix, "source"), "bundled")
        help_ = "visitors train on the bundled data; the presenter can name a data file"
    c[0].text_input(label, key=_key(prefix, "source"), help=help_,
                    disabled=bench not in MNIST_BENCHMARKS or not roles.is_presenter())
    label, help_ = _FIELDS["device"]
    c[1].selectbox(label, DEVICES, key=_key(prefix, "device"), help=help_)


#: core's config field names (in its ValueError messages) → the form's user-facing names
_USER_NAMES: tuple[tuple[str, str], ...] = (
    (r"\bn_tasks\b", "number of tasks"), (r"\biters_per_task\b", "iterations per task"),
    (r"\bbatch_size\b", "batch size"), (r"\blambda\b", "λ"), (r"\blam\b", "λ"), (r"\bbeta\b", "β"),
    (r"\bsparsity(?: p)?\b", "sparsity p"), (r"\blr\b", "learning rate"),
    (r"\bembedding_dim\b", "task embedding size d"), (r"\bchunk_size\b", "chunk size"),
    (r"\beval_every\b", "evaluate every"), (r"(?<![\w ])hidden(?==)", "target hidden sizes"),
    (r"^hidden\b", "target hidden sizes"), (r"\bseed\b", "seed"),
)
_NUMERIC = ("seed", "n_tasks", "iters", "eval_every", "sparsity", "beta", "lam", "batch_size", "embedding_dim", "lr")


def _check_app_limits(v: dict[str, Any], bench: str) -> None:
    """Refusals the dataclasses cannot make: things that depend on the machine or the UI."""
    for name in _NUMERIC:
        if name not in v:
            continue
        x = v[name]
        if x is None or isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            label = _FIELDS[name][0]
            shown = "empty" if x is None else f"{x!r}"
            raise ValueError(f"{label} is {shown}, not a finite number; enter a number")
    if v["iters"] > MAX_ITERS:
        raise ValueError(f"iterations per task = {v['iters']:,} is more than the app allows ({MAX_ITERS:,}); "
                         "use the CLI for longer runs")
    if v["eval_every"] > v["iters"] >= 1:
        raise ValueError(f"evaluate every {v['eval_every']} iterations is more than the {v['iters']} iterations "
                         "per task: the live curves would get one point per task")
    from core.devices import resolve_device  # imports torch: not on the Overview's first page

    resolve_device(str(v.get("device", "auto")))  # "cuda" on a server without one: refused here, said why
    src = str(v["source"]).strip()
    if bench in MNIST_BENCHMARKS and src != "bundled" and not Path(src).expanduser().exists():
        raise ValueError(f"data path {src!r} does not exist (use 'bundled' or a path to full MNIST)")


def _build(prefix: str, method: str, v: dict[str, Any]) -> RunConfig:
    bench, preset = state.get(_key(prefix, "benchmark")), state.get(_key(prefix, "preset"))
    _check_app_limits(v, bench)
    source = str(v["source"]).strip() if bench in MNIST_BENCHMARKS else "bundled"
    cfg = make_config(bench, method, preset, source or "bundled", int(v["seed"]))
    data = dataclasses.replace(cfg.data, n_tasks=int(v["n_tasks"]), augment=bool(v.get("augment", cfg.data.augment)))
    train = dataclasses.replace(cfg.train, iters_per_task=int(v["iters"]), eval_every=int(v["eval_every"]),
                                batch_size=int(v.get("batch_size", cfg.train.batch_size)),
                                lr=float(v.get("lr", cfg.train.lr)), device=str(v.get("device", "auto")),
                                log_every=max(1, min(cfg.train.log_every, int(v["eval_every"]))))
    if "hidden" not in v:  # compare form: the preset's networks and regularisers per method
        return cfg.replace(data=data, train=train)
    target = dataclasses.replace(cfg.target, hidden=parse_sizes(v["hidden"], "target hidden sizes"))
    hyper = dataclasses.replace(cfg.hyper, embedding_dim=int(v["embedding_dim"]))
    mask = dataclasses.replace(cfg.mask, sparsity=float(v["sparsity"]), beta=float(v["beta"]), lam=float(v["lam"]))
    return cfg.replace(data=data, target=target, hyper=hyper, mask=mask, train=train)


def _collect(prefix: str, names: Sequence[str]) -> dict[str, Any]:
    return {n: state.get(_key(prefix, n)) for n in names}


def train_config_ui(prefix: str = "train") -> FormResult:
    """The Train page form: benchmark, method, preset and the key hyperparameters.

    Returns:
        FormResult with the RunConfig, or with the reason it was refused (also shown as st.error).
    """
    _init(prefix, with_method=True)
    bench, method = _stream_ui(prefix, with_method=True)
    _schedule_ui(prefix, bench)
    c = st.columns(3)
    with c[0]:
        _number(prefix, "sparsity", fmt="%.1f", step=5.0, disabled=method != "hypermask")
    with c[1]:
        _number(prefix, "beta", fmt="%.5f", step=0.0005, disabled=method == "finetune")
    with c[2]:
        _number(prefix, "lam", fmt="%.5f", step=0.0005, disabled=method != "hypermask")
    with st.expander("More settings", expanded=False):
        c = st.columns(3)
        with c[0]:
            st.text_input(_FIELDS["hidden"][0], key=_key(prefix, "hidden"), help=_FIELDS["hidden"][1])
            _number(prefix, "batch_size", step=16)
        with c[1]:
            _number(prefix, "embedding_dim", step=8, disabled=method == "finetune")
            _number(prefix, "lr", fmt="%.5f", step=0.0005)
        with c[2]:
            st.checkbox(_FIELDS["augment"][0], key=_key(prefix, "augment"), help=_FIELDS["augment"][1])
    form_url.remember(_url_spec(prefix, with_method=True))
    cfg, error = _attempt(lambda: _build(prefix, method, _collect(prefix, TRAIN_FIELDS)))
    return FormResult(cfg, error)


def compare_config_ui(prefix: str = "compare") -> FormResult:
    """The Compare page form: one task stream (benchmark, preset, seed, schedule) and the methods.

    Every method gets its own preset values (networks, regularisers) on the same seeded stream.
    Returns:
        FormResult whose `configs` maps method → RunConfig.
    """
    _init(prefix, with_method=False)
    bench, _ = _stream_ui(prefix, with_method=False)
    _schedule_ui(prefix, bench)
    state.init_default(_key(prefix, "hnet"), False)
    st.checkbox("Also run HNET (hypernetwork generates all weights)", key=_key(prefix, "hnet"))
    form_url.remember(_url_spec(prefix, with_method=False))
    methods = ["hypermask", "finetune"] + (["hnet"] if state.get(_key(prefix, "hnet")) else [])
    configs, error = _attempt(lambda: {m: _build(prefix, m, _collect(prefix, COMPARE_FIELDS)) for m in methods})
    return FormResult(configs["hypermask"] if configs else None, error, configs)


def _attempt(build: Any) -> tuple[Any, str | None]:
    """Run `build`; a ValueError from the config dataclasses (or the app's limits) becomes the
    form's st.error and the returned message."""
    try:
        return build(), None
    except (ValueError, TypeError) as e:
        msg = rename_fields(str(e).splitlines()[0], _USER_NAMES, " = ") if str(e) else type(e).__name__
        st.error(f"Cannot start: {msg}", icon=":material/block:")
        return None, msg
