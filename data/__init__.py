"""The data the optimizers are compared on.

    from data import load_regression, load_images
    x, y = load_regression()  # the article's 100 points
    (x_train, y_train), (x_test, y_test) = load_images("digits", seed=0)

`load_regression` gives the article's linear-regression data; `load_images` an image
dataset for the CNN by name (`DATASETS`: digits, mnist, fashion_mnist, cifar10) or from an
.npz file; `load_mnist1d` MNIST-1D, generated locally. Problems with a dataset raise `DatasetError`, a `ValueError` with a one-line
message. Nothing is loaded or generated on import, and importing this package does not
import TensorFlow.
"""

from data.images import DATASETS, DatasetError, load_images
from data.mnist1d import load_mnist1d
from data.regression import load_regression

__all__ = ["load_regression", "load_images", "load_mnist1d", "DATASETS", "DatasetError"]
