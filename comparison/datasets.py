"""Each model's training and validation data, as the comparison uses them.

Everything here is checked before a run folder exists, so data the model cannot use is a
one-line error, not a traceback in the middle of training.
"""

from dataclasses import dataclass

import numpy as np

from data import DatasetError, load_images, load_regression
from models import MODELS

# --quick: the CNN trains on a fixed random subset (the same for every seed and optimizer).
QUICK_SAMPLES = {"train": 2048, "validation": 512}
_QUICK_SUBSET_SEED = 0


@dataclass
class Split:
    """A model's training and validation arrays (None for a surface, which has no data)."""

    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


class ModelData:
    """The data one model trains on, loaded and checked once.

    linear: the article's 100 points drawn with the trial's seed, validated on 100 fresh
    points drawn with seed + 1. cnn: the image dataset's train and test sets (a fixed subset
    with `quick`), the same for every seed. A surface: no data.
    """

    def __init__(self, model, dataset, quick=False):
        self.model = model
        self.kind = MODELS[model].data
        self._images = None
        if self.kind == "images":
            (x_train, y_train), (x_test, y_test) = load_images(dataset)
            check_cnn_can_use(dataset, x_train, y_train)
            if quick:
                rng = np.random.default_rng(_QUICK_SUBSET_SEED)
                train = np.sort(rng.permutation(len(x_train))[: QUICK_SAMPLES["train"]])
                test = np.sort(rng.permutation(len(x_test))[: QUICK_SAMPLES["validation"]])
                x_train, y_train, x_test, y_test = x_train[train], y_train[train], x_test[test], y_test[test]
            self._images = Split(x_train, y_train, x_test, y_test)

    @property
    def name(self):
        """What the HParams dashboard shows as the trial's dataset."""
        return {"regression": "regression", "surface": "none"}.get(self.kind)

    @property
    def train_size(self):
        return {"regression": 100, "surface": 1}.get(self.kind) or len(self._images.x_train)

    def split(self, seed):
        if self.kind == "regression":
            x, y = load_regression(seed=seed)
            x_val, y_val = load_regression(seed=seed + 1)
            return Split(x, y, x_val, y_val)
        return self._images or Split()

    @property
    def input_shape(self):
        return self._images.x_train.shape[1:] if self._images else (2,)

    @property
    def num_classes(self):
        return int(self._images.y_train.max()) + 1 if self._images else 1


def check_cnn_can_use(source, x_train, y_train):
    """What build_cnn needs from a dataset, as a DatasetError naming what is wrong."""
    height, width, _ = x_train.shape[1:]
    if min(height, width) < 8:
        raise DatasetError(f"{source}: images are {height} x {width}; the CNN needs at least 8 x 8")
    classes = np.unique(y_train)
    if len(classes) < 2:
        raise DatasetError(f"{source}: every training label is {classes[0]}; the CNN needs at least 2 classes")
