"""Reading pickles of numpy arrays without running anything else from the file.

Released models of the papers' code (IRGAN's ``gan_generator.pkl``, ``model_dns_ori.pkl``)
are Python-2 pickles of lists of numpy arrays. ``pickle.load`` would import and call whatever
the file names; :func:`load_numpy_pickle` admits only what rebuilding an ndarray needs
(``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``, numpy's
scalar constructor, and ``_codecs.encode``, which Python 3's older protocols use for bytes)
and refuses any other global with a :class:`~seqadv.errors.DataError` naming it and the file.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from seqadv.errors import DataError

__all__ = ["load_numpy_pickle", "ALLOWED_GLOBALS"]

#: (module, name) pairs a numpy pickle may name; numpy 2 renamed numpy.core to numpy._core
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3's protocols 0-2 store bytes (str -> bytes, no code)
}


class _NumpyOnly(pickle.Unpickler):
    def __init__(self, data: bytes, path: Path) -> None:
        super().__init__(io.BytesIO(data), encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataError(
                f"{self.path}: refused to load {module}.{name}: only numpy arrays are read "
                "from a pickle"
            )
        if module == "_codecs":
            import codecs

            return codecs.encode
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own reconstructor
        if name == "scalar":
            return np.float64(0).__reduce__()[0]  # numpy's scalar constructor
        return getattr(np, name)


def load_numpy_pickle(path: str | os.PathLike) -> Any:
    """The object of a pickle made only of numpy arrays (and lists, tuples, dicts, numbers).

    Raises:
        DataError: the file is missing or not a pickle, or it names anything but numpy's
            array machinery.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc})") from None
    try:
        return _NumpyOnly(data, path).load()
    except DataError:
        raise
    except Exception as exc:  # truncated or foreign files raise many types
        raise DataError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
