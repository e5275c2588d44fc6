"""Malformed input everywhere: run folders, bundles, data paths and the CLI answer with one line in the
engine's own error type (RunError, DataError) naming the file and the problem — never an uncaught
exception, never a read that does not end (a FIFO, /dev/zero, a gzip bomb, a lying header)."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.data.sources import DataError, load_mnist
from core.engine.loop import run_training
from core.runs import RunError, check_tensor_files, export_bundle, import_bundle, load_run, read_events, summarize_run
from core.tickets import read_cache, settings
from tests.conftest import tiny_config

DEEP = b"[" * 100_000  # Python's json raises RecursionError on it
# (file content, the message RunError / the runs list gives for it, after the file's name)
BAD_JSON = {
    "invalid_json": (b'{"format_version": 1,', "is not valid JSON (Expecting property name enclosed in double quotes "
                                                "at line 1 column 22)"),
    "invalid_utf8": (b'{"format_version": 1, "x": "\xff"}', "is not UTF-8 text (byte 0xff at offset 28)"),
    "nested": (DEEP, "is nested too deeply to read"),
    "not_an_object": (b"[1, 2]", "does not hold a JSON object"),
    "big_int": (b'{"format_version": 1, "x": ' + b"9" * 5000 + b"}", "is not valid JSON (exceeds the limit"),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("runs") / "good"
    run_training(tiny_config(iters=10), run_dir=d)
    return d


def _copy(saved: Path, tmp_path: Path, name: str = "bad") -> Path:
    bad = tmp_path / name
    shutil.copytree(saved, bad)
    return bad


def _one_line_run_error(folder: Path) -> str:
    with pytest.raises(RunError) as e:
        load_run(folder)
    msg = str(e.value)
    assert "\n" not in msg
    if msg.startswith("weights"):  # the Runs page's header check says the same
        assert check_tensor_files(folder) == [msg]
    else:  # the runs list too
        assert msg == summarize_run(folder).error
    return msg


@pytest.mark.parametrize("name", ["config.json", "metrics.json"])
@pytest.mark.parametrize("case", list(BAD_JSON))
def test_a_malformed_json_file_in_a_run_folder_is_one_line(saved, tmp_path, name: str, case: str) -> None:
    bad = _copy(saved, tmp_path)
    content, expected = BAD_JSON[case]
    (bad / name).write_bytes(content)
    assert _one_line_run_error(bad).startswith(f"{name} {expected}")


@pytest.mark.parametrize("name, change, expected", [
    ("config.json", {"train": {"iters_per_task": 1.5}}, "config.json: config section 'train': iters_per_task=1.5 "
                                                        "is not a whole number"),
    ("config.json", {"mask": {"adaptive": "yes"}}, "config.json: config section 'mask': adaptive=\"yes\" is not "
                                                   "true or false"),
    ("config.json", {"target": {"hidden": 64}}, "config.json: config section 'target': hidden=64 is not a list"),
    ("config.json", {"train": "fast"}, "config.json: config section 'train' must be an object, got 'fast'"),
    ("metrics.json", {"status": 3}, "metrics.json: status='3' is not a string"),
    ("metrics.json", {"data": None, "tasks_done": True}, "metrics.json: tasks_done='True' does not fit"),
    ("metrics.json", {"data": [1]}, "metrics.json: data='[1]' is not an object"),
    ("metrics.json", {"bwt": "x" * 1000}, "metrics.json: bwt='xxxxxxxx"),
    ("config.json", {"train": {"iters_per_task": 10 ** 400}}, "config.json: iters_per_task=" + "1" + "0" * 36
                                                              + "... (401 characters) must lie in [1, 1,000,000]"),
])
def test_wrong_types_in_a_run_folder_are_one_line(saved, tmp_path, name: str, change: dict, expected: str) -> None:
    bad = _copy(saved, tmp_path)
    data = json.loads((bad / name).read_text())
    if name == "config.json":
        data["config"].update(change)
    else:
        data.update(change)
    (bad / name).write_text(json.dumps(data))
    msg = _one_line_run_error(bad)
    assert msg.startswith(expected) and len(msg) < 200


@pytest.mark.parametrize("kind, expected", [
    ("fifo", "is a FIFO (named pipe), not a regular file"),
    ("dev_zero", "is a character device, not a regular file"),
    ("folder", "is a folder, not a regular file"),
    ("too_large", "is 16.0 MiB, more than the 16.0 MiB allowed"),
])
@pytest.mark.parametrize("name", ["config.json", "metrics.json", "weights.safetensors", "events.jsonl"])
def test_a_run_file_that_is_no_regular_file_is_never_read(saved, tmp_path, kind: str, expected: str, name: str) -> None:
    bad = _copy(saved, tmp_path)
    target = bad / name
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev_zero":
        target.symlink_to("/dev/zero")
    elif kind == "folder":
        target.mkdir()
    else:
        with open(target, "wb") as f:  # sparse: nothing is written
            f.truncate(16 * 2**20 + 1 if name != "weights.safetensors" else 8 * 2**30 + 1)
    if name == "events.jsonl":  # the live channel: no events, and no wait
        assert read_events(bad) == []
        return
    msg = _one_line_run_error(bad)
    if kind == "too_large" and name == "weights.safetensors":
        expected = "is 8.0 GiB, more than the 8.0 GiB allowed"
    assert msg == f"{name} {expected}"


def test_a_tickets_cache_that_is_a_fifo_is_ignored(saved, tmp_path) -> None:
    bad = _copy(saved, tmp_path)
    os.mkfifo(bad / "tickets.json")
    assert read_cache(bad, settings(2)) is None


def _bundle(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["config.json", "metrics.json"])
@pytest.mark.parametrize("case", ["invalid_json", "invalid_utf8", "nested", "not_an_object"])
def test_a_bundle_with_a_malformed_json_file_is_one_line(saved, tmp_path, name: str, case: str) -> None:
    with zipfile.ZipFile(io.BytesIO(export_bundle(saved))) as z:
        files = {n: z.read(n) for n in z.namelist()}
    content, expected = BAD_JSON[case]
    files[name] = content
    with pytest.raises(RunError) as e:
        import_bundle(_bundle(files), tmp_path / "runs")
    assert str(e.value).startswith(f"{name} in the bundle {expected}") and "\n" not in str(e.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bundle_wrong_types_and_sizes_are_one_line(saved, tmp_path) -> None:
    with zipfile.ZipFile(io.BytesIO(export_bundle(saved))) as z:
        files = {n: z.read(n) for n in z.namelist()}
    cfg = json.loads(files["config.json"])
    cfg["config"]["train"]["batch_size"] = "64"
    with pytest.raises(RunError, match=r"^config.json in the bundle: config section 'train': batch_size=\"64\" "
                                       r"is not a whole number$"):
        import_bundle(_bundle({**files, "config.json": json.dumps(cfg).encode()}), tmp_path / "runs")
    metrics = json.loads(files["metrics.json"])
    metrics["acc_matrix"][0][0] = "high"
    with pytest.raises(RunError, match=r"^the bundle's run does not load: metrics.json: acc_matrix\[0\]\[0\]='high' "
                                       r"is not an accuracy in \[0, 1\]$"):
        import_bundle(_bundle({**files, "metrics.json": json.dumps(metrics).encode()}), tmp_path / "runs")
    huge = b" " * (16 * 2**20 + 1)  # compresses to a few KiB: the stated size is what counts
    with pytest.raises(RunError, match=r"^metrics.json in the bundle is 16.0 MiB, more than the 16.0 MiB a run's "
                                       r"JSON file may have$"):
        import_bundle(_bundle({**files, "metrics.json": huge}), tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# ---------------------------------------------------------------- data paths


def _idx(arr: np.ndarray, count: int | None = None) -> bytes:
    shape = arr.shape if count is None else (count, *arr.shape[1:])
    head = struct.pack(">iiii", 2051, *shape) if arr.ndim == 3 else struct.pack(">ii", 2049, shape[0])
    return head + arr.astype(np.uint8).tobytes()


def _idx_folder(folder: Path, gz: bool = False) -> Path:
    folder.mkdir()
    for name, arr in (("train-images-idx3-ubyte", np.zeros((20, 28, 28))), ("train-labels-idx1-ubyte", np.zeros(20)),
                      ("t10k-images-idx3-ubyte", np.zeros((10, 28, 28))), ("t10k-labels-idx1-ubyte", np.zeros(10))):
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(_idx(arr)) if gz else _idx(arr))
    return folder


def _data_error(source: Path | str) -> str:
    with pytest.raises(DataError) as e:
        load_mnist(str(source))
    assert "\n" not in str(e.value)
    return str(e.value)


def test_data_paths_that_are_no_regular_files(tmp_path) -> None:
    os.mkfifo(tmp_path / "fifo.npz")
    assert _data_error(tmp_path / "fifo.npz") == (f"{tmp_path}/fifo.npz: is a FIFO (named pipe), not a regular file; "
                                                  "expected a Keras-layout MNIST .npz or a folder of the four MNIST IDX files")
    assert _data_error("/dev/zero").startswith("/dev/zero: is a character device, not a regular file")
    (tmp_path / "empty").mkdir()
    assert "holds none of the four MNIST IDX files" in _data_error(tmp_path / "empty")
    folder = _idx_folder(tmp_path / "idx")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "t10k-labels-idx1-ubyte").symlink_to("/dev/zero")
    assert _data_error(folder) == (f"{folder}/t10k-labels-idx1-ubyte: is a character device, not a regular file; "
                                   "expected an MNIST IDX file")


def test_a_huge_data_file_is_refused_before_it_is_read(tmp_path) -> None:
    with open(tmp_path / "huge.npz", "wb") as f:
        f.truncate(300 * 2**20)  # sparse
    assert _data_error(tmp_path / "huge.npz").startswith(f"{tmp_path}/huge.npz: is 300.0 MiB, more than the 256.0 MiB allowed")


def test_gzip_members_are_decompressed_with_a_limit(tmp_path) -> None:
    """A gzip that inflates far beyond what its IDX header announces (a gzip bomb) is read only up to
    the announced size; a header announcing absurd sizes is refused before the body is read."""
    folder = _idx_folder(tmp_path / "idx", gz=True)
    bomb = folder / "train-labels-idx1-ubyte.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(struct.pack(">ii", 2049, 20))
        for _ in range(50):
            f.write(bytes(2**20))  # 50 MiB of zeros after a 20-label header
    assert _data_error(folder) == (f"{bomb}: too long: header says labels of shape (20,) (20 bytes) but the body "
                                   "holds more")
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(struct.pack(">iiii", 2051, 2**31 - 1, 28, 28)))
    assert _data_error(folder).startswith(f"{images}: header says images of shape (2147483647, 28, 28) (1.5 TiB), "
                                          "more than the 256.0 MiB allowed")


def test_an_npz_header_larger_than_its_member_is_refused(tmp_path) -> None:
    buf = io.BytesIO()
    np.save(buf, np.zeros(10, np.uint8))
    raw = buf.getvalue()
    head_len = 10 + struct.unpack("<H", raw[8:10])[0]
    header = raw[10:head_len].decode().replace("(10,)", "(99999999999,)")
    header = header.rstrip().ljust(head_len - 11) + "\n"
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as z:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            z.writestr(f"{key}.npy", raw[:10] + header.encode() + raw[head_len:])
    assert _data_error(tmp_path / "lie.npz") == (f"{tmp_path}/lie.npz: x_train: its header says shape (99999999999,) "
                                                 "(93.1 GiB) but the member holds 138 bytes; corrupt or truncated")


# ---------------------------------------------------------------- the CLI: one line, exit status 2


def _cli(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as e:
        code = main(list(argv))
        raise SystemExit(code)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("data", ["/dev/zero", "FIFO", "HUGE"])
def test_cli_refuses_endless_or_huge_data_in_one_line(tmp_path, capsys, data: str) -> None:
    if data == "FIFO":
        os.mkfifo(tmp_path / "fifo")
        data = str(tmp_path / "fifo")
    elif data == "HUGE":
        with open(tmp_path / "huge.npz", "wb") as f:
            f.truncate(2**40)  # 1 TiB, sparse
        data = str(tmp_path / "huge.npz")
    err = _cli(capsys, "train", "--benchmark", "split-mnist", "--data", data, "--out", str(tmp_path / "r"), "--quiet")
    assert err.startswith(f"error: {data}: is ") and not (tmp_path / "r").exists()


def test_cli_usage_errors_are_one_line(tmp_path, capsys) -> None:
    assert "invalid choice: 'cifar'" in _cli(capsys, "train", "--benchmark", "cifar", "--out", str(tmp_path / "r"))
    assert "the following arguments are required: command" in _cli(capsys)
    assert _cli(capsys, "train", "--benchmark", "split-digits") == (
        "error: give --out FOLDER for a new run, or --resume RUN to continue one\n")
    assert _cli(capsys, "list", str(tmp_path / "nothing")) == f"error: {tmp_path / 'nothing'} is not a folder of runs\n"


def test_cli_on_malformed_run_folders_is_one_line(saved, tmp_path, capsys) -> None:
    bad = _copy(saved, tmp_path)
    (bad / "config.json").write_bytes(DEEP)
    assert _cli(capsys, "analyze", str(bad)).startswith(
        f"error: cannot analyze {bad}: config.json is nested too deeply to read")
    assert _cli(capsys, "train", "--resume", str(bad)).startswith(
        f"error: cannot resume {bad}: config.json is nested too deeply to read")
    (bad / "config.json").write_bytes((saved / "config.json").read_bytes())
    (bad / "metrics.json").write_bytes(b"\xff\xfe")
    assert _cli(capsys, "train", "--resume", str(bad)) == (
        f"error: cannot resume {bad}: metrics.json is not UTF-8 text (byte 0xff at offset 0)\n")
    assert _cli(capsys, "train", "--resume", str(tmp_path / "none")).startswith(
        f"error: cannot resume {tmp_path / 'none'}: ")
    assert _cli(capsys, "train", "--resume", str(saved), "--iters", "5") == (
        f"error: cannot resume {saved}: --resume continues a run with its own settings; --iters cannot be given "
        "with it (only --threads and --quiet)\n")
    (bad / "events.jsonl").unlink()
    (bad / "events.jsonl").symlink_to("/dev/zero")  # an endless events file, and no claim on the folder
    (bad / ".run.lock").unlink()
    assert _cli(capsys, "watch", str(bad)) == (f"error: {bad} holds no run (events.jsonl is not a regular file, and "
                                               "no run has claimed it)\n")
