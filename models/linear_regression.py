def build_linear_regression():
    """The article's model, `y = w1 * x1 + w2 * x2`: one Dense unit, no bias.

    The weights start exactly at the article's (w1, w2) = (2, 3), so every optimizer
    begins its walk down the hill from the same point and the first step can be checked
    against the article's numbers. Trained with mean squared error.
    """
    import keras  # here, not at the top: `import models` stays cheap for the CLI's --help

    return keras.Sequential(
        [
            keras.Input(shape=(2,)),
            keras.layers.Dense(
                1,
                use_bias=False,
                kernel_initializer=keras.initializers.Constant([[2.0], [3.0]]),
                name="weights",
            ),
        ],
        name="linear_regression",
    )
