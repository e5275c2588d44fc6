"""The server's own settings (app/.streamlit/config.toml): it listens on localhost only unless told
otherwise, and the browser never gets a traceback. Streamlit reads that file as the main script's
config, from any working directory (`streamlit run app/main.py` from the repo root included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_config_binds_to_localhost_and_hides_error_details() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    cfg = tomllib.loads((ROOT / "app" / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "localhost"
    assert cfg["client"]["showErrorDetails"] == "none"


def test_streamlit_reads_it_for_the_readme_command(tmp_path: Path) -> None:
    """The options Streamlit resolves for main script app/main.py, from the repo root and from elsewhere
    (no ./.streamlit there), and a command-line flag still opens the server to a room."""
    code = ("import sys, streamlit.config as c; c._main_script_path = sys.argv[1]; "
            "c.get_config_options(force_reparse=True, options_from_flags=dict(a.split('=') for a in sys.argv[2:])); "
            "print(c.get_option('server.address'), c.get_option('client.showErrorDetails'))")
    for cwd, script in ((ROOT, "app/main.py"), (tmp_path, str(ROOT / "app" / "main.py"))):
        out = subprocess.run([sys.executable, "-c", code, script], cwd=cwd, capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["localhost", "none"], out.stderr
    out = subprocess.run([sys.executable, "-c", code, "app/main.py", "server.address=0.0.0.0"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0.0.0.0", "none"], out.stderr
