import keras
from keras import ops

from optimizers.hyperparameters import MOMENTUM, check_learning_rate


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

    The slot `momentum_buffer` holds that undamped sum, `v / (1 - momentum)`, as
    PyTorch's `momentum_buffer` does:

    ```
    buffer = momentum * buffer + g                   # buffer == v / (1 - momentum)
    w = w - learning_rate * (1 - momentum) * buffer  # == w - learning_rate * v
    ```

    The same rule with one full-size multiplication fewer per step than updating `v`.
    The buffer depends on the gradients alone, never on the learning rate, so schedules
    (a warm-up from 0 included) and learning-rate changes apply exactly from the step
    they take effect. An infinite gradient sends the weight to -inf or inf, as with
    Keras's momentum SGD. In float16 the buffer, `1 / (1 - momentum)` times the average
    gradient, overflows once gradients stay above `65504 * (1 - momentum)`.

    Args:
        learning_rate: A float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`,
            or a callable with no arguments returning the value. Defaults to `0.01`.
        momentum: Decay rate of the velocity, in [0, 1). Defaults to `0.9`.
        **kwargs: The base class's keyword arguments (`clipnorm`, `weight_decay`,
            `use_ema`, `gradient_accumulation_steps`, `name`, ...).
    """

    def __init__(self, learning_rate=0.01, momentum=MOMENTUM.default, **kwargs):
        learning_rate = check_learning_rate(learning_rate)
        momentum = MOMENTUM.check(momentum)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._buffers = self.add_optimizer_variables(var_list, "momentum_buffer")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        g = ops.cast(gradient, dtype)
        # convert_to_tensor, not cast: cast would round a Python float through float32.
        momentum = ops.convert_to_tensor(self.momentum, dtype)
        # 1 - momentum as the dtype rounds momentum, so that buffer * (1 - momentum) averages
        # to the gradient in bfloat16 too, where 0.9 rounds to 0.8984.
        one_minus_momentum = ops.subtract(ops.cast(1, dtype), momentum)
        step_size = ops.multiply(ops.cast(learning_rate, dtype), one_minus_momentum)
        buffer = self._buffers[self._get_variable_index(variable)]

        self.assign(buffer, ops.add(ops.multiply(buffer, momentum), g))
        self.assign_sub(variable, ops.multiply(buffer, step_size))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum})
        return config
