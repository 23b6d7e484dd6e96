"""Image datasets for the CNN, by name or from an .npz file.

Every loader returns `((x_train, y_train), (x_test, y_test))`: images float32 in [0, 1] of
shape (N, H, W, C) with C 1 (grayscale) or 3 (RGB), labels int64 of shape (N,) holding class
indices 0, 1, 2, ... An .npz file follows the layout of Keras's own dataset files: arrays
`x_train`, `y_train`, `x_test`, `y_test`; images uint8 0-255 or floats already in [0, 1],
with or without the channel axis; labels of shape (N,) or (N, 1).
"""

import functools
import numbers
import os
import zipfile

import numpy as np

from data.cache import default_cache_dir
from data.digits import load_digits

SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DatasetError(ValueError):
    """A dataset that cannot be loaded or is not in the expected layout.

    The message is one line that names the file or dataset, and the key or value at fault,
    so a command line can print it in place of a traceback.
    """


def load_images(name_or_npz_path, seed=0):
    """Load an image dataset by its name in `DATASETS` or from an .npz file.

    Returns `((x_train, y_train), (x_test, y_test))`, images float32 (N, H, W, C) in [0, 1]
    and labels int64 (N,). `seed` picks the generated `digits` data; the other named
    datasets have fixed splits. Raises `DatasetError` for an unknown name or a bad file.
    """
    # numpy's seeds, which `digits` uses, are integers from 0 to 2**32 - 1.
    if not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise DatasetError(f"seed must be an integer from 0 to 2**32 - 1; received seed={seed!r}")
    source = os.fspath(name_or_npz_path)
    if source in DATASETS:
        return DATASETS[source](seed=seed)
    if source.endswith(".npz") or os.path.exists(source):
        return load_npz(source)
    raise DatasetError(
        f"unknown dataset {source!r}: choose one of {', '.join(DATASETS)}, "
        f"or give the path to an .npz file with {', '.join(SPLIT_KEYS)}"
    )


def load_npz(path):
    """Load and check an .npz file in the Keras layout (see the module docstring)."""
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such file")
    if not os.path.isfile(path):  # a folder, a device (/dev/zero reads forever), a pipe (waits forever)
        raise DatasetError(f"{path}: not a regular file; give an .npz file")
    # np.load reports anything that is not a zip archive as refused pickle data; say plainly.
    if not zipfile.is_zipfile(path):
        raise DatasetError(
            f"{path}: not an .npz file (not a zip archive); write one with "
            f"numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in SPLIT_KEYS if key in archive.files}
            found = archive.files
    except Exception as error:  # any file, whatever its bytes: zlib, zipfile and numpy all have their own errors
        reason = _first_line(error)
        raise DatasetError(f"{path}: cannot read it as an .npz file ({reason})") from error
    # np.load gives the raw bytes of a member that is not a .npy array.
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise DatasetError(f"{path}: {key} is not a .npy array; write the file with numpy.savez")
    missing = [key for key in SPLIT_KEYS if key not in arrays]
    if missing:
        raise DatasetError(
            f"{path}: missing key {missing[0]!r}; an .npz in the Keras layout has "
            f"{', '.join(SPLIT_KEYS)} (found: {', '.join(found) or 'nothing'})"
        )
    return _as_model_arrays(arrays, source=path)


def load_keras_dataset(name, seed=0):
    """`mnist`, `fashion_mnist` or `cifar10` through `keras.datasets`.

    Keras downloads the data once into its cache (`$KERAS_HOME/datasets`, else
    `~/.keras/datasets`) and checks its hash. `seed` is unused, as the splits are fixed; it is
    accepted so that every loader in `DATASETS` is called the same way.
    """
    import keras  # here rather than at the top: importing Keras imports TensorFlow

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as error:
        # Keras reports a failed download as a bare Exception and a bad hash as a ValueError,
        # so nothing narrower catches the offline case.
        raise DatasetError(
            f"cannot load {name!r} through keras.datasets ({_first_line(error)}); connect to "
            f"the internet once so Keras can cache it in {default_cache_dir()}, or pass an .npz "
            f"file in the Keras layout ({', '.join(SPLIT_KEYS)})"
        ) from error
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return _as_model_arrays(arrays, source=name)


# The one list of named datasets: the CLI's choices and the tests read it.
DATASETS = {
    "digits": load_digits,
    "mnist": functools.partial(load_keras_dataset, "mnist"),
    "fashion_mnist": functools.partial(load_keras_dataset, "fashion_mnist"),
    "cifar10": functools.partial(load_keras_dataset, "cifar10"),
}


def _as_model_arrays(arrays, source):
    """Check the four arrays against each other and convert them to the loaders' format."""
    x_train, x_test = (_images(arrays[key], key, source) for key in ("x_train", "x_test"))
    y_train, y_test = (_labels(arrays[key], key, source) for key in ("y_train", "y_test"))
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise DatasetError(
                f"{source}: x_{split} has {len(x)} images but y_{split} has {len(y)} labels"
            )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(
            f"{source}: x_test images are {x_test.shape[1:]} but x_train images are "
            f"{x_train.shape[1:]}; both splits need the same image shape"
        )
    # The CNN gets one output per class index up to the largest label: a stray huge label
    # would build a huge, untrainable output layer, so every index must have examples.
    present = np.unique(y_train)
    num_classes = int(present[-1]) + 1
    if len(present) != num_classes:
        missing = int(np.flatnonzero(present != np.arange(len(present)))[0])
        raise DatasetError(
            f"{source}: y_train's labels go up to {num_classes - 1} but only {len(present)} "
            f"distinct labels appear (none is {missing}); labels must be the class indices "
            f"0..K-1 of K classes, each with training images"
        )
    if y_test.max() >= num_classes:
        raise DatasetError(
            f"{source}: y_test has label {y_test.max()}, "
            f"outside y_train's labels 0..{num_classes - 1}"
        )
    return (x_train, y_train), (x_test, y_test)


def _images(images, key, source):
    """(N, H, W[, C]) uint8 or float in [0, 1] -> float32 (N, H, W, C) in [0, 1], C 1 or 3."""
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DatasetError(
            f"{source}: {key} has shape {images.shape}; "
            f"expected (N, H, W) or (N, H, W, C) with C 1 or 3"
        )
    if len(images) == 0:
        raise DatasetError(f"{source}: {key} is empty")
    if images.dtype == np.uint8:
        return np.divide(images, 255, dtype=np.float32)
    # Other integer types are refused rather than guessed at: 0/1 masks and 0-255 pixels
    # would need different scales.
    if images.dtype.kind != "f":
        raise DatasetError(
            f"{source}: {key} has dtype {images.dtype}; expected uint8 (0-255) or floats in [0, 1]"
        )
    if not np.isfinite(images).all():
        raise DatasetError(f"{source}: {key} has NaN or infinite pixel values")
    low, high = images.min(), images.max()
    if low < 0 or high > 1:
        raise DatasetError(
            f"{source}: {key} has pixel values from {low:g} to {high:g}; floats must be scaled to "
            f"[0, 1] (or store uint8 0-255)"
        )
    return images.astype(np.float32)


def _labels(labels, key, source):
    """Class indices of shape (N,) or (N, 1), integer or whole floats -> int64 (N,)."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]  # Keras's cifar10 layout
    if labels.ndim != 1:
        raise DatasetError(
            f"{source}: {key} has shape {labels.shape}; "
            f"expected class indices of shape (N,) or (N, 1)"
        )
    if len(labels) == 0:
        raise DatasetError(f"{source}: {key} is empty")
    if labels.dtype.kind == "f":
        not_whole = labels[~(np.isfinite(labels) & (labels == np.round(labels)))]
        if len(not_whole):
            raise DatasetError(
                f"{source}: {key} has non-integer label {not_whole[0]:g}; "
                f"labels are class indices 0, 1, 2, ..."
            )
    elif labels.dtype.kind not in "iu":
        raise DatasetError(
            f"{source}: {key} has dtype {labels.dtype}; "
            f"labels are integer class indices 0, 1, 2, ..."
        )
    if labels.min() < 0:
        raise DatasetError(
            f"{source}: {key} has negative label {labels.min():g}; "
            f"labels are class indices 0, 1, 2, ..."
        )
    return labels.astype(np.int64)


def _first_line(error):
    """An exception's message, cut to one line for DatasetError's one-line messages."""
    return str(error).strip().split("\n")[0] or type(error).__name__
