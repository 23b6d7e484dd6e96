"""Trains a small Dense model with each rule on one device, then data-parallel on every device
comparison.devices sets up, from the same initial weights on the same global batches.

    TRAIN_CPU_DEVICES=2 python tests/distribute_check.py tensorflow|jax OUT.npz

Run by tests/test_distribute.py in a subprocess of its own, because a process's device count
is fixed when its backend starts. Writes OUT.npz with the initial weights (`initial/<i>`)
and, for each rule, the final weights of both runs (`<rule>/one/<i>`, `<rule>/replicas/<i>`);
prints the data-parallel line.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from comparison import devices  # noqa: E402

# Large enough that every replica gets several samples per step, small enough to be quick.
SAMPLES, FEATURES, GLOBAL_BATCH, EPOCHS = 64, 6, 16, 3
LEARNING_RATES = {"sgd": 0.1, "momentum": 0.1, "rmsprop": 0.01, "adam": 0.01}


def build_model():
    import keras

    # No dropout or other randomness in the forward pass: the runs differ only in placement.
    return keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(8, activation="tanh"),
                             keras.layers.Dense(1)])


def train(rule, initial_weights, x, y, scope):
    from optimizers import OPTIMIZERS

    with scope:
        model = build_model()
        model.set_weights(initial_weights)
        model.compile(optimizer=OPTIMIZERS[rule](learning_rate=LEARNING_RATES[rule]), loss="mean_squared_error")
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return [w.copy() for w in model.get_weights()]


def main(backend, out):
    import contextlib

    import numpy as np

    found = devices.start(backend, "cpu")
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = (np.sin(x @ rng.normal(size=(FEATURES, 1))) + 0.1 * rng.normal(size=(SAMPLES, 1))).astype("float32")
    keras.utils.set_random_seed(0)
    initial_weights = build_model().get_weights()

    weights = {f"initial/{i}": w for i, w in enumerate(initial_weights)}
    for rule in LEARNING_RATES:
        for i, w in enumerate(train(rule, initial_weights, x, y, contextlib.nullcontext())):
            weights[f"{rule}/one/{i}"] = w
    print(devices.data_parallel(found))
    for rule in LEARNING_RATES:
        for i, w in enumerate(train(rule, initial_weights, x, y, found.scope())):
            weights[f"{rule}/replicas/{i}"] = w
    np.savez(out, **weights)


if __name__ == "__main__":
    main(*sys.argv[1:])
