"""Each model's training and validation data, as the comparison uses them."""

import numpy as np

from comparison.runner import Split
from data import load_images, load_regression


def load_splits(model_names, dataset, seed, quick=None):
    """Returns {model name: Split}.

    linear: the article's 100 points (seeded by `seed`) to train on, 100 fresh points from
    the same distribution to validate on. cnn: `dataset`'s train and test sets; `quick`
    takes a seeded random subset of each, so a smoke run sees every class.
    """
    splits = {}
    if "linear" in model_names:
        x, y = load_regression(seed=seed)
        x_val, y_val = load_regression(seed=seed + 1)
        splits["linear"] = Split(x, y, x_val, y_val)
    if "cnn" in model_names:
        (x_train, y_train), (x_test, y_test) = load_images(dataset)
        if quick:
            rng = np.random.default_rng(seed)
            train = rng.permutation(len(x_train))[: quick["train_samples"]]
            test = rng.permutation(len(x_test))[: quick["test_samples"]]
            x_train, y_train, x_test, y_test = x_train[train], y_train[train], x_test[test], y_test[test]
        splits["cnn"] = Split(x_train, y_train, x_test, y_test)
    return splits
