"""The synthetic oracle's parameters: the ``.npz`` layout and the published pickle.

An LSTM with fixed random parameters plays the "real data" distribution: training data are
its samples, and NLL-oracle (the mean per-token negative log-likelihood of generated
sequences under it) measures how close a generator comes. As in SeqGAN: vocabulary 5,000,
embedding and hidden size 32, length 20, no PAD or EOS (every sequence has exactly 20
tokens), token 0 as the start input, every parameter drawn from N(0, 1).

The oracle is stored in the ``.npz`` layout of ../shared/data/README.md (row-vector
matmuls): ``emb`` (V, E); ``Wi, Ui, bi`` (input gate), ``Wf, Uf, bf`` (forget), ``Wog, Uog,
bog`` (output gate), ``Wc, Uc, bc`` (candidate), each (E, H), (H, H), (H,); ``Wo`` (H, V),
``bo`` (V,). Internally it is an :class:`~seqadv.models.generator.LSTMGenerator` whose
weights are those arrays rearranged into torch's LSTM layout, so it samples and scores with
the same fast code as any generator (see :mod:`seqadv.models.oracle`). This module only
reads, checks and writes the arrays (numpy, no torch).
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np

from seqadv.errors import DataError, UnsafePickleError

__all__ = [
    "ORACLE_KEYS",
    "SEQGAN_PICKLE_ORDER",
    "oracle_shapes",
    "seeded_oracle_arrays",
    "validate_oracle_arrays",
    "load_oracle_npz",
    "save_oracle_npz",
    "load_seqgan_pickle",
    "import_seqgan_pickle",
]

# The published pickle is a list of 15 arrays in this order.
SEQGAN_PICKLE_ORDER = (
    "emb", "Wi", "Ui", "bi", "Wf", "Uf", "bf", "Wog", "Uog", "bog", "Wc", "Uc", "bc", "Wo", "bo",
)  # fmt: skip
ORACLE_KEYS = SEQGAN_PICKLE_ORDER


def oracle_shapes(vocab_size: int, embed_dim: int, hidden_dim: int) -> dict[str, tuple[int, ...]]:
    """The shape of every array of the ``.npz`` layout."""
    shapes: dict[str, tuple[int, ...]] = {"emb": (vocab_size, embed_dim)}
    for w, u, b in (
        ("Wi", "Ui", "bi"),
        ("Wf", "Uf", "bf"),
        ("Wog", "Uog", "bog"),
        ("Wc", "Uc", "bc"),
    ):
        shapes[w], shapes[u], shapes[b] = (
            (embed_dim, hidden_dim),
            (hidden_dim, hidden_dim),
            (hidden_dim,),
        )
    shapes["Wo"], shapes["bo"] = (hidden_dim, vocab_size), (vocab_size,)
    return shapes


def seeded_oracle_arrays(
    seed: int, vocab_size: int = 5000, embed_dim: int = 32, hidden_dim: int = 32, std: float = 1.0
) -> dict[str, np.ndarray]:
    """Every array drawn from N(0, std^2) (SeqGAN's oracle initialization), from ``seed``.

    Drawn with numpy's PCG64 in ``ORACLE_KEYS`` order, so the same seed gives the same oracle
    on every machine and torch version.
    """
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    shapes = oracle_shapes(vocab_size, embed_dim, hidden_dim)
    return {k: (rng.standard_normal(shapes[k]) * std).astype(np.float32) for k in ORACLE_KEYS}


def validate_oracle_arrays(
    arrays: dict[str, np.ndarray], where: str = "arrays"
) -> tuple[int, int, int]:
    """Check names, shapes, dtypes and finiteness; return (vocab_size, embed_dim, hidden_dim)."""
    missing = [k for k in ORACLE_KEYS if k not in arrays]
    if missing:
        raise DataError(f"{where}: missing oracle array(s) {', '.join(missing)}")
    if np.ndim(arrays["emb"]) != 2 or np.ndim(arrays["Ui"]) != 2:
        raise DataError(f"{where}: oracle arrays 'emb' and 'Ui' must be matrices")
    vocab_size, embed_dim = np.shape(arrays["emb"])
    hidden_dim = np.shape(arrays["Ui"])[0]
    expected = oracle_shapes(vocab_size, embed_dim, hidden_dim)
    for key in ORACLE_KEYS:
        arr = np.asarray(arrays[key])
        if arr.shape != expected[key]:
            raise DataError(
                f"{where}: oracle array {key!r} has shape {arr.shape}, expected {expected[key]}"
            )
        if arr.dtype.kind != "f":
            raise DataError(f"{where}: oracle array {key!r} is not a float array ({arr.dtype})")
        if not np.all(np.isfinite(arr)):
            raise DataError(f"{where}: oracle array {key!r} has NaN or infinite values")
    return int(vocab_size), int(embed_dim), int(hidden_dim)


def load_oracle_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and validate an oracle ``.npz`` (``allow_pickle=False``: no code can run)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: oracle file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz oracle ({exc})") from exc
    validate_oracle_arrays(arrays, where=str(path))
    return arrays


def save_oracle_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays in the ``.npz`` layout, atomically (temp file, then rename)."""
    validate_oracle_arrays(arrays, where=str(path))
    _atomic_savez(Path(path), {k: np.asarray(arrays[k], dtype=np.float32) for k in ORACLE_KEYS})


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# -- the published pickle ------------------------------------------------------------------
def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _numpy_frombuffer():
    try:
        from numpy._core.numeric import _frombuffer
    except ImportError:  # numpy < 2
        from numpy.core.numeric import _frombuffer
    return _frombuffer


def _latin1_encode(
    text: str, encoding: str = "utf-8", errors: str = "strict", *, where: str = "pickle"
) -> bytes:
    """What protocol-2 pickles written by Python 3 use for an array's bytes; latin-1 only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str) or errors != "strict":
        raise UnsafePickleError(
            f"{where}: refused to load: the pickle asks for _codecs.encode with encoding "
            f"{encoding!r}; only latin-1 (an array's bytes) is admitted"
        )
    return text.encode("latin-1")


# How numpy arrays are pickled: _reconstruct (protocols 0-4), _frombuffer (protocol 5) and,
# in protocol-2 pickles written by Python 3, _codecs.encode(..., "latin1") for the raw bytes.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits numpy arrays (and plain containers of them) and nothing else."""

    def __init__(self, file, where: str) -> None:
        super().__init__(file)
        self.where = where

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise UnsafePickleError(
                f"{self.where}: refused to load: the pickle asks for {module}.{name}, and only "
                "numpy arrays are admitted (nothing was executed)"
            )
        if (module, name) == ("_codecs", "encode"):
            return functools.partial(_latin1_encode, where=self.where)
        return factory()

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.where}: refused to load: persistent ids are not admitted")


def load_seqgan_pickle(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read SeqGAN's ``target_params`` pickle with an arrays-only unpickler.

    Returns:
        The 15 arrays keyed by their ``.npz`` names.

    Raises:
        UnsafePickleError: the pickle asks for anything but numpy arrays.
        DataError: the file is missing, truncated or not the 15 arrays expected.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    data = path.read_bytes()
    try:
        obj = _ArraysOnlyUnpickler(io.BytesIO(data), str(path)).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or malformed pickles raise many types
        raise DataError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, (list, tuple)) or len(obj) != len(SEQGAN_PICKLE_ORDER):
        raise DataError(
            f"{path}: expected a list of {len(SEQGAN_PICKLE_ORDER)} arrays "
            f"({', '.join(SEQGAN_PICKLE_ORDER)}), got {type(obj).__name__}"
            + (f" of length {len(obj)}" if isinstance(obj, (list, tuple)) else "")
        )
    arrays = {}
    for key, arr in zip(SEQGAN_PICKLE_ORDER, obj):
        if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
            raise DataError(f"{path}: item {key!r} is not a float numpy array")
        arrays[key] = arr.astype(np.float32)
    return arrays


def import_seqgan_pickle(
    pickle_path: str | os.PathLike, npz_path: str | os.PathLike
) -> dict[str, np.ndarray]:
    """Convert the published pickle to the ``.npz`` layout; returns the arrays written.

    Raises:
        DataError: ``npz_path`` is ``pickle_path`` itself (it would be overwritten), and the
            errors of :func:`load_seqgan_pickle`.
    """
    source, target = Path(pickle_path), Path(npz_path)
    same = source.resolve() == target.resolve()
    if not same and source.exists() and target.exists():
        same = os.path.samefile(source, target)
    if same:
        raise DataError(
            f"{npz_path}: is the pickle being imported ({pickle_path}); writing the .npz there "
            "would destroy it. Give another output path"
        )
    arrays = load_seqgan_pickle(pickle_path)
    validate_oracle_arrays(arrays, where=str(pickle_path))
    save_oracle_npz(npz_path, arrays)
    return arrays
