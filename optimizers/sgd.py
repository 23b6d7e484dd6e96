import keras
from keras import ops

from optimizers.hyperparameters import check_learning_rate


@keras.saving.register_keras_serializable(package="optimizers")
class SGD(keras.optimizers.Optimizer):
    """Plain stochastic gradient descent: a step straight down the slope.

    Update rule, for each weight `w` with gradient `g`:

    ```
    w = w - learning_rate * g
    ```

    SGD keeps no state, so it needs no `build`; the base class's `get_config` records
    `learning_rate`. Identical to `keras.optimizers.SGD(learning_rate)` and `torch.optim.SGD(lr=...)`
    with no momentum.

    Args:
        learning_rate: A float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`,
            or a callable with no arguments returning the value. Defaults to `0.01`.
        **kwargs: The base class's keyword arguments (`clipnorm`, `clipvalue`,
            `global_clipnorm`, `weight_decay`, `use_ema`, `gradient_accumulation_steps`,
            `loss_scale_factor`, `name`, ...).
    """

    def __init__(self, learning_rate=0.01, **kwargs):
        learning_rate = check_learning_rate(learning_rate)
        super().__init__(learning_rate=learning_rate, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, ops.multiply(g, lr))
