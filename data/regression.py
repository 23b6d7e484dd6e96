"""`regression`: the article's 100 points for the two-weight linear model."""

import numpy as np

NUM_SAMPLES = 100


def load_regression(seed=42):
    """The article's regression data: `x` (100, 2) and `y` (100, 1), float64, uniform in [0, 1).

    `y` is independent of `x`, as in the article: the model `y = w1 * x1 + w2 * x2` can only
    reach the least-squares optimum, near (0.47, 0.41) for the default seed, with loss 0.1396.
    The draws come in the article's order, x1, x2, then y, from `np.random.RandomState(seed)`,
    which gives the same numbers as its `np.random.seed(42)` followed by `np.random.rand`.
    """
    rng = np.random.RandomState(seed)
    x1 = rng.rand(NUM_SAMPLES, 1)
    x2 = rng.rand(NUM_SAMPLES, 1)
    y = rng.rand(NUM_SAMPLES, 1)
    return np.hstack([x1, x2]), y
