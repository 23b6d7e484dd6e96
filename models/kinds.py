"""The kinds of model the optimizers are compared on. Each kind is a type that answers every
question about models of that kind: what data they train on and how big it is, what the
trial's dataset is called, how a trial fits one, how it is scored, and its landscape.

- `LeastSquaresModel`: the article's two-weight linear regression.
- `SurfaceModel`: a two-weight test surface (the article's hill, made real).
- `ImageClassifier`: a CNN on an image dataset (`--dataset`).
- `SignalClassifier`: a 1-D CNN on MNIST-1D's signals.

Every registry entry (models.MODELS) is an instance of one. Nothing outside this module
asks which kind a model is: it asks the model. A new kind is a new type here and a registry
entry there.

Importing this module imports no Keras or TensorFlow: the command line reads the registry
before they load.
"""

import hashlib
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from data import DatasetError, load_images, load_mnist1d, load_regression
from models.landscapes import least_squares_landscape, surface_landscape

# Learning rates a sweep tries by default: the model's default for the rule times
# 10**(k/2), k = -3..3: 7 log-spaced values over 3 decades centred on the default.
GRID_HALF_DECADES = range(-3, 4)

# --quick: a classifier trains on a fixed random subset (the same for every seed and optimizer).
QUICK_SAMPLES = {"train": 2048, "validation": 512}
_QUICK_SUBSET_SEED = 0


@dataclass(frozen=True)
class Split:
    """A model's training and validation arrays (None for a surface, which has no data)."""

    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


@dataclass(frozen=True)
class ModelData:
    """The data one model trains on, loaded and checked once."""

    label: str  # the trial's dataset, as HParams and trials.csv show it
    train_size: int  # examples in one epoch
    input_shape: tuple
    num_classes: int
    fingerprint: str  # a hash of what it trains on: a resumed run must train on the same
    split: Callable  # seed -> Split


@dataclass(frozen=True)
class Fitting:
    """How one trial fits its model: `model.fit(**arguments, callbacks=[watch, ...])`. The
    watch records the epochs, stops a diverging trial (`.diverged`) and, for a two-weight
    model, holds the path (`.path`); `watch.finish()` runs however training ended."""

    arguments: dict
    watch: object


@dataclass(frozen=True, kw_only=True)
class ModelEntry:
    """What every model in the registry has. Its subclass, the model's kind, does the rest."""

    name: str
    build: Callable  # (input_shape, num_classes) -> keras.Model
    loss: object  # a Keras loss name or function
    epochs: int  # default epochs; for a surface, steps (one step per epoch)
    quick_epochs: int  # --quick
    learning_rates: dict  # optimizer name -> default learning rate on this model
    about: str
    # The fixed target of the performance profile (comparison.profiles): a value of the
    # score metric (validation loss; a surface's height) that counts as solved, chosen once
    # for a stated reason, never from the results being ranked.
    target: float
    target_reason: str
    batch_size: int | None = None  # None: the whole training set, one step per epoch
    metrics: tuple = ()

    validates = True  # it has held-out data; a surface is scored by its height instead
    validates_in_keras = True  # Keras's fit computes the validation loss (a two-weight model's is exact, outside)
    reuses_compiled_model = False  # see comparison.training
    shows_keras_progress = True  # Keras prints its epochs as it trains (they need a heading)
    uneven_batch_advice = "choose a --batch-size for which every batch does"  # for --distribute

    @property
    def score_metric(self):
        """What a comparison ranks its trials by: the final validation loss, or a surface's height."""
        return "val_loss" if self.validates else "train_loss"

    def default_learning_rate(self, optimizer, class_default=None):
        """The rule's default here; one this registry does not know gets its class's default."""
        return self.learning_rates.get(optimizer, class_default)

    @staticmethod
    def learning_rate_grid(default):
        """A sweep's default grid around a rule's default learning rate (GRID_HALF_DECADES)."""
        return tuple(float(f"{default * 10 ** (k / 2):.3g}") for k in GRID_HALF_DECADES)

    def settings(self, data, batch_size=None, noise=0.0):
        """The trial settings this kind takes from the options, {"batch_size", "noise"}, and
        the options given that it has no use for (for a note)."""
        size = min(batch_size or self.batch_size or data.train_size, data.train_size)
        return {"batch_size": size, "noise": 0.0}, (["--noise"] if noise else [])

    def batch_sizes(self, data, batch_size):
        """The sizes of the batches Keras's fit sees, validation included."""
        examples = [data.train_size] + ([len(data.split(0).x_val)] if self.validates_in_keras else [])
        return {batch_size} | {n % batch_size for n in examples} - {0}

    def load(self, dataset, quick=False):
        """The model's data as a ModelData; DatasetError (one line) if it cannot train on it."""
        raise NotImplementedError

    def fitting(self, trial, split, log, verbose):
        """A Fitting: how `trial` trains its model on `split`, logging to `log`."""
        raise NotImplementedError

    def landscape(self, split):
        """The hill its two weights walk (models.landscapes.Landscape), or None."""
        return None


def _fingerprint(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


# ---- classifiers: Keras trains them epoch by epoch, validated on held-out data ----------

@dataclass(frozen=True, kw_only=True)
class Classifier(ModelEntry):
    """A classifier Keras trains epoch by epoch, validated on its data's test split, the same
    for every seed; `--quick` trains on a fixed subset."""

    def fitting(self, trial, split, log, verbose):
        from models.watch import EpochRecorder

        return Fitting(
            arguments=dict(x=split.x_train, y=split.y_train, batch_size=trial.batch_size, epochs=trial.epochs,
                           validation_data=(split.x_val, split.y_val), verbose=verbose),
            watch=EpochRecorder(log),
        )

    @staticmethod
    def _data(label, x_train, y_train, x_test, y_test, quick):
        if quick:
            rng = np.random.default_rng(_QUICK_SUBSET_SEED)
            train = np.sort(rng.permutation(len(x_train))[: QUICK_SAMPLES["train"]])
            test = np.sort(rng.permutation(len(x_test))[: QUICK_SAMPLES["validation"]])
            x_train, y_train, x_test, y_test = x_train[train], y_train[train], x_test[test], y_test[test]
        split = Split(x_train, y_train, x_test, y_test)
        return ModelData(label=str(label), train_size=len(x_train), input_shape=x_train.shape[1:],
                         num_classes=int(y_train.max()) + 1,
                         fingerprint=_fingerprint(x_train, y_train, x_test, y_test), split=lambda seed: split)


@dataclass(frozen=True, kw_only=True)
class ImageClassifier(Classifier):
    """A classifier of images (`--dataset`)."""

    def load(self, dataset, quick=False):
        (x_train, y_train), (x_test, y_test) = load_images(dataset)
        self.check_can_use(dataset, x_train, y_train)
        return self._data(dataset, x_train, y_train, x_test, y_test, quick)

    @staticmethod
    def check_can_use(source, x_train, y_train):
        """What the CNN needs from a dataset, as a DatasetError naming what is wrong."""
        height, width, _ = x_train.shape[1:]
        if min(height, width) < 8:
            raise DatasetError(f"{source}: images are {height} x {width}; the CNN needs at least 8 x 8")
        classes = np.unique(y_train)
        if len(classes) < 2:
            raise DatasetError(f"{source}: every training label is {classes[0]}; the CNN needs at least 2 classes")


@dataclass(frozen=True, kw_only=True)
class SignalClassifier(Classifier):
    """A classifier of MNIST-1D's signals (data/mnist1d.py): its own data, whatever `--dataset` says."""

    def load(self, dataset, quick=False):
        (x_train, y_train), (x_test, y_test) = load_mnist1d()
        return self._data("mnist1d", x_train, y_train, x_test, y_test, quick)


# ---- two-weight models: every step recorded, each a point on the hill ------------------

@dataclass(frozen=True, kw_only=True)
class TwoWeightModel(ModelEntry):
    """A model whose only weights are two numbers, so its path can be drawn over its loss.

    A step takes microseconds; Keras's per-epoch overhead (and its per-epoch validation
    pass) would be most of the run. So the whole trial is one Keras epoch over a stream of
    steps, and a PathRecorder reads the weights after every step and computes their exact
    losses itself. Trials that differ only in learning rate and seed reuse one compiled
    model (comparison.training).
    """

    reuses_compiled_model = True
    shows_keras_progress = False
    validates_in_keras = False

    def stream(self, trial, split):
        """(tf.data.Dataset of the trial's steps, steps per epoch)."""
        raise NotImplementedError

    def exact_losses(self, split):
        """points (k, 2) -> {"train_loss": (k,), ...}: the loss under each point, in float64."""
        raise NotImplementedError

    def fitting(self, trial, split, log, verbose):
        from models.watch import PathRecorder

        stream, steps_per_epoch = self.stream(trial, split)
        losses = self.exact_losses(split)
        return Fitting(
            arguments=dict(x=stream, epochs=1, steps_per_epoch=trial.epochs * steps_per_epoch, shuffle=False,
                           verbose=0),
            watch=PathRecorder(losses, steps_per_epoch, log),
        )


@dataclass(frozen=True, kw_only=True)
class LeastSquaresModel(TwoWeightModel):
    """The article's `y = w1 * x1 + w2 * x2` on its 100 points drawn with the trial's seed,
    validated on 100 fresh points drawn with seed + 1. Full batch by default (the article's
    gradient); a smaller batch makes it stochastic."""

    def load(self, dataset, quick=False):
        x, y = load_regression(seed=0)
        return ModelData(label="regression", train_size=len(x), input_shape=x.shape[1:], num_classes=1,
                         fingerprint=_fingerprint(x, y), split=self.split)

    @staticmethod
    def split(seed):
        x, y = load_regression(seed=seed)
        x_val, y_val = load_regression(seed=seed + 1)
        return Split(x, y, x_val, y_val)

    def stream(self, trial, split):
        """Each epoch's batches in an order drawn from (seed, epoch), made lazily so that
        memory does not grow with the epochs; a full batch is the data as it is."""
        import tensorflow as tf

        n, batch = len(split.x_train), trial.batch_size
        x, y = tf.constant(split.x_train, "float32"), tf.constant(split.y_train, "float32")
        if batch >= n:
            return tf.data.Dataset.from_tensors((x, y)).repeat(trial.epochs), 1

        def epoch_batches(epoch):
            seed = tf.stack([tf.constant(trial.seed, tf.int64), epoch])
            return tf.data.Dataset.from_tensor_slices(tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
                                                      ).batch(batch)

        stream = (tf.data.Dataset.range(trial.epochs).flat_map(epoch_batches)
                  .map(lambda idx: (tf.gather(x, idx), tf.gather(y, idx))))
        return stream, math.ceil(n / batch)

    def exact_losses(self, split):
        def mean_squared_error(x, y):
            x, y = np.asarray(x, "float64"), np.asarray(y, "float64").ravel()
            return lambda points: np.mean((points @ x.T - y) ** 2, axis=-1)

        train = mean_squared_error(split.x_train, split.y_train)
        val = mean_squared_error(split.x_val, split.y_val)
        return lambda points: {"train_loss": train(points), "val_loss": val(points)}

    def landscape(self, split):
        return least_squares_landscape(split.x_train, split.y_train, name=self.name)


@dataclass(frozen=True, kw_only=True)
class SurfaceModel(TwoWeightModel):
    """A two-weight test surface: no data, one step per epoch, scored by its height; the
    gradient is the exact one plus `--noise` (see models.surfaces)."""

    surface: object = None  # a models.surfaces.Surface
    validates = False
    uneven_batch_advice = "a surface takes one point per step"

    def settings(self, data, batch_size=None, noise=0.0):
        return {"batch_size": 1, "noise": float(noise)}, (["--batch-size"] if batch_size else [])

    def load(self, dataset, quick=False):
        return ModelData(label="none", train_size=1, input_shape=(2,), num_classes=1,
                         fingerprint=_fingerprint(np.array(self.surface.start)), split=lambda seed: Split())

    def stream(self, trial, split):
        """One noise vector per step, N(0, noise**2) per coordinate, drawn from (seed,
        step), so the gradient is the exact one plus that noise (zero if noise is 0)."""
        import tensorflow as tf

        def step(index):
            noise = tf.random.stateless_normal([1, 2], seed=tf.stack([tf.constant(trial.seed, tf.int64), index]))
            return trial.noise * noise, tf.zeros([1, 1])

        return tf.data.Dataset.range(trial.epochs).map(step), 1

    def exact_losses(self, split):
        from models.surfaces import surface_heights

        return lambda points: {"train_loss": surface_heights(self.surface, points)}

    def landscape(self, split):
        return surface_landscape(self.surface)
