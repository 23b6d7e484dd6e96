import keras
from keras import ops

from optimizers.arguments import check_decay_rate, check_learning_rate


@keras.saving.register_keras_serializable(package="optimizers")
class Momentum(keras.optimizers.Optimizer):
    """Gradient descent with momentum, in the article's moving-average form.

    The velocity `v` is an exponential moving average of the gradients: the ball keeps
    rolling in the direction it has been going. For each weight `w` with gradient `g`:

    ```
    v = momentum * v + (1 - momentum) * g
    w = w - learning_rate * v
    ```

    With a constant learning rate this equals
    `keras.optimizers.SGD(learning_rate=learning_rate * (1 - momentum), momentum=momentum)`.
    Keras's and PyTorch's SGD accumulate `v = momentum * v + g` instead (no `1 - momentum`
    damping), so their step is `1 / (1 - momentum)` times larger for the same learning rate.

    Args:
        learning_rate: A float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`,
            or a callable with no arguments returning the value. Defaults to `0.01`.
        momentum: Decay rate of the velocity, in [0, 1). Defaults to `0.9`.
        **kwargs: The base class's keyword arguments (`clipnorm`, `weight_decay`,
            `use_ema`, `gradient_accumulation_steps`, `name`, ...).
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, **kwargs):
        check_learning_rate(learning_rate)
        check_decay_rate("momentum", momentum)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        # convert_to_tensor, not cast: cast would round a Python float through float32.
        one_minus_momentum = ops.convert_to_tensor(1 - self.momentum, variable.dtype)
        v = self._velocities[self._get_variable_index(variable)]

        # v + (g - v) * (1 - momentum) is the same average as momentum * v + (1 - momentum) * g
        # with one full-size multiply fewer.
        self.assign_add(v, ops.multiply(ops.subtract(g, v), one_minus_momentum))
        self.assign_sub(variable, ops.multiply(v, lr))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum})
        return config
