import keras
from keras import ops

from optimizers.hyperparameters import EPSILON, RHO, check_learning_rate
from optimizers.epsilon import epsilon_floor


@keras.saving.register_keras_serializable(package="optimizers")
class RMSProp(keras.optimizers.Optimizer):
    """RMSProp: steps scaled by the root mean square of recent gradients.

    `s` is an exponential moving average of the squared gradients; dividing by its
    square root gives steep directions small steps and flat directions large ones.
    For each weight `w` with gradient `g`:

    ```
    s = rho * s + (1 - rho) * g**2
    w = w - learning_rate * g / (sqrt(s) + epsilon)
    ```

    Epsilon stays outside the square root, as the article insists and as PyTorch's
    `torch.optim.RMSprop` does; Keras's built-in `RMSprop` puts it inside,
    `g / sqrt(s + epsilon)`, which differs wherever `s` is small.

    An epsilon below the smallest normal number of the weights' dtype (float16: 6.1e-5,
    float32: 1.2e-38) is raised to it: in float16 the default 1e-8 rounds to 0, and a
    zero gradient would then step by 0 / 0. A gradient whose square overflows makes `s`
    infinite and the weight stops moving, as with Keras's `RMSprop`.

    Args:
        learning_rate: A float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`,
            or a callable with no arguments returning the value. Defaults to `0.001`.
        rho: Decay rate of the squared-gradient average, in [0, 1). Defaults to `0.9`.
        epsilon: Added to the root mean square to avoid division by zero, > 0.
            Defaults to `1e-8`.
        **kwargs: The base class's keyword arguments (`clipnorm`, `weight_decay`,
            `use_ema`, `gradient_accumulation_steps`, `name`, ...).
    """

    def __init__(self, learning_rate=0.001, rho=RHO.default, epsilon=EPSILON.default, **kwargs):
        learning_rate = check_learning_rate(learning_rate)
        rho = RHO.check(rho)
        epsilon = EPSILON.check(epsilon)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        g = ops.cast(gradient, dtype)
        # convert_to_tensor, not cast: cast would round a Python float through float32.
        rho = ops.convert_to_tensor(self.rho, dtype)
        one_minus_rho = ops.convert_to_tensor(1 - self.rho, dtype)
        epsilon = ops.convert_to_tensor(max(self.epsilon, epsilon_floor(dtype)), dtype)
        s = self._velocities[self._get_variable_index(variable)]

        # rho * s + (1 - rho) * g**2, not s + (g**2 - s) * (1 - rho): once g**2 has
        # overflowed, s is inf and the shorter form computes inf - inf = NaN.
        self.assign(
            s, ops.add(ops.multiply(s, rho), ops.multiply(ops.square(g), one_minus_rho))
        )
        self.assign_sub(
            variable, ops.divide(ops.multiply(g, lr), (ops.add(ops.sqrt(s), epsilon)))
        )

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
