"""`mnist1d`: MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024),
4,000 training and 1,000 test signals of length 40, 10 classes, made to tell learning methods
apart where MNIST cannot: its authors report logistic regression 32 %, an MLP 68 %, their
CNN 94 % test accuracy.

Generated here, never downloaded: `mnist1d.data.make_dataset` with the package's default
arguments (seed 42) builds the signals from its ten templates with numpy and scipy; the
package's `get_dataset`, which fetches a pickle from the web by default, is never called.
What it makes equals the authors' published pickle (checked to 9e-16 when this loader was
written). The first load generates it (about 3 s with the package's import) and caches it,
with a checksum, beside the digits (data/cache.py); later loads read the cache.
"""

import os

import numpy as np

from data.cache import cached, default_cache_dir

NUM_TRAIN, NUM_TEST, LENGTH = 4000, 1000, 40
LAYOUT = {
    "x_train": ("float32", (NUM_TRAIN, LENGTH)), "y_train": ("uint8", (NUM_TRAIN,)),
    "x_test": ("float32", (NUM_TEST, LENGTH)), "y_test": ("uint8", (NUM_TEST,)),
}


def load_mnist1d(cache_dir=None):
    """MNIST-1D as `((x_train, y_train), (x_test, y_test))`: signals float32 of shape
    (N, 40, 1) (standardised by the generator: mean 0, standard deviation 1), labels int64."""
    path = os.path.join(cache_dir or default_cache_dir(), "mnist1d-defaults.npz")
    arrays = cached(path, generate_mnist1d, LAYOUT)
    return tuple((arrays[f"x_{split}"][..., None], arrays[f"y_{split}"].astype(np.int64))
                 for split in ("train", "test"))


def generate_mnist1d():
    """MNIST-1D afresh, with the package's default arguments: float32 signals (N, 40), uint8 labels."""
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset seeds Python's and numpy's global generators (to 42): keep whatever
    # state the caller's had.
    state = np.random.get_state()
    try:
        made = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(state)
    return {"x_train": made["x"].astype(np.float32), "y_train": made["y"].astype(np.uint8),
            "x_test": made["x_test"].astype(np.float32), "y_test": made["y_test"].astype(np.uint8)}
