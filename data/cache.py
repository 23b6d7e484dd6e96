"""Caches of generated datasets (digits, MNIST-1D), checked at every read like any user file.

The first load generates the arrays and writes them, with a SHA-256 of their contents, to
an .npz file in Keras's dataset folder; later loads read it. A cache whose arrays do not
match its checksum, or lack one, or have other keys, shapes or dtypes than the generator
makes (a file replaced by hand, a half-copied one, another version's) is not used: the data
is generated again and the cache rewritten. So a cache can never feed a model data the
generator did not make (a float copy of the digits, divided by 255 a second time, trained
the CNN at chance).
"""

import hashlib
import os
import warnings
import zipfile

import numpy as np

_CHECKSUM = "sha256"


def default_cache_dir():
    """Keras's dataset cache: `$KERAS_HOME/datasets`, else `~/.keras/datasets`.

    Worked out here rather than asked of Keras, because importing Keras imports TensorFlow,
    which alone takes longer than reading the cache.
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def checksum(arrays):
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def cached(path, generate, layout):
    """The arrays cached at `path`, or `generate()`'s, written there for next time.

    `layout` maps each key to the (dtype, shape) the generator makes; a cache that differs
    from it, or from its own checksum, is generated again.
    """
    arrays = _read(path, layout)
    if arrays is None:
        arrays = generate()
        _write(path, arrays)
    return arrays


def _read(path, layout):
    if not os.path.isfile(path):
        return None  # not cached yet (or its folder cannot be made): generated, nothing to warn about
    try:
        with np.load(path, allow_pickle=False) as cache:
            stored = {key: cache[key] for key in cache.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        stored = None
    arrays, why = None, "it cannot be read as an .npz file"
    if stored is not None and _CHECKSUM not in stored:
        why = "it has no checksum (an older version's cache, or not this tool's)"
    elif stored is not None and set(stored) != set(layout) | {_CHECKSUM}:
        why = f"it holds {', '.join(sorted(stored))}"
    elif stored is not None:
        arrays = {key: stored[key] for key in layout}
        wrong = [k for k, (dtype, shape) in layout.items()
                 if arrays[k].dtype != np.dtype(dtype) or arrays[k].shape != tuple(shape)]
        if wrong:
            arrays, why = None, f"its {wrong[0]} is {stored[wrong[0]].dtype} {stored[wrong[0]].shape}"
        elif str(stored[_CHECKSUM]) != checksum(arrays):
            arrays, why = None, "its arrays do not match its checksum"
    if arrays is None:
        warnings.warn(f"{path} is not usable as a cache ({why}); generating the data again", stacklevel=3)
    return arrays


def _write(path, arrays):
    """Save `arrays` and their checksum to `path` atomically: an interrupted write never
    leaves half a file. A failure costs generating again next time, not this load."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as file:
            np.savez(file, **arrays, **{_CHECKSUM: np.array(checksum(arrays))})
        os.replace(temporary, path)
    except OSError as error:
        warnings.warn(f"could not cache the generated data at {path}: {error}", stacklevel=3)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
