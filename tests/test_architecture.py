"""core/ must never import streamlit or app (dependency direction app → core)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_core_never_imports_streamlit_or_app() -> None:
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("streamlit", "app")]
    assert not offenders


def test_charts_importable_without_streamlit() -> None:
    for path in (ROOT / "app" / "components" / "charts").glob("*.py"):
        tree = ast.parse(path.read_text())
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(m and m.startswith("streamlit") for m in mods), path.name


def test_no_module_over_400_lines() -> None:
    """One concept a file: engine and app modules stay short enough to read at once."""
    long = {str(p.relative_to(ROOT)): n for d in ("core", "app") for p in (ROOT / d).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def _core_imports(path: Path) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
            mods |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in mods if m.startswith("core")}


def test_layers_inside_core() -> None:
    """events is the shared vocabulary (imports nothing of core); run folders never import the
    engine, so the engine can use them without a cycle."""
    assert _core_imports(ROOT / "core" / "events.py") == set()
    for path in (ROOT / "core" / "runs").glob("*.py"):
        assert not any(m.startswith("core.engine") for m in _core_imports(path)), path.name
