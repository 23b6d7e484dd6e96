import math

import keras
from keras import ops

from optimizers.hyperparameters import BETA_1, BETA_2, BIAS_CORRECTION, EPSILON, check_learning_rate
from optimizers.epsilon import epsilon_floor


@keras.saving.register_keras_serializable(package="optimizers")
class Adam(keras.optimizers.Optimizer):
    """Adam: momentum on the gradient, RMSProp on its scale.

    For each weight `w` with gradient `g`, at the 1-based step `t`:

    ```
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    if bias_correction:
        m_hat = m / (1 - beta_1**t)
        v_hat = v / (1 - beta_2**t)
        w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)
    else:
        w = w - learning_rate * m / (sqrt(v) + epsilon)
    ```

    With `bias_correction=True` this is Algorithm 1 of Kingma & Ba (2015), the form of
    PyTorch's `torch.optim.Adam`; Keras's built-in `Adam` uses the paper's "epsilon hat"
    form, adding epsilon to `sqrt(v)` rather than to `sqrt(v_hat)`.
    `bias_correction=False` reproduces the article's single-step code exactly.

    The epsilon actually added to `sqrt(v)` (with bias correction,
    `epsilon * sqrt(1 - beta_2**t)`, see `update_step`) is at least the smallest normal
    number of the weights' dtype (float16: 6.1e-5, float32: 1.2e-38): in float16 the
    default 1e-8 rounds to 0, and a zero gradient would then step by 0 / 0. A gradient
    whose square overflows makes `v` infinite and the weight stops moving, as with
    Keras's `Adam` on PyTorch; Keras's `Adam` on TensorFlow and JAX updates `v` as
    `v + (g**2 - v) * (1 - beta_2)`, which turns the weight NaN at the next step.

    Args:
        learning_rate: A float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`,
            or a callable with no arguments returning the value. Defaults to `0.001`.
        beta_1: Decay rate of the gradient average `m`, in [0, 1). Defaults to `0.9`.
        beta_2: Decay rate of the squared-gradient average `v`, in [0, 1).
            Defaults to `0.999`.
        epsilon: Added to the root mean square to avoid division by zero, > 0.
            Defaults to `1e-8`.
        bias_correction: Whether to divide `m` and `v` by `1 - beta**t`, undoing their
            bias towards the zero they start from. Defaults to `True`.
        **kwargs: The base class's keyword arguments (`clipnorm`, `weight_decay`,
            `use_ema`, `gradient_accumulation_steps`, `name`, ...).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=BETA_1.default,
        beta_2=BETA_2.default,
        epsilon=EPSILON.default,
        bias_correction=BIAS_CORRECTION.default,
        **kwargs,
    ):
        learning_rate = check_learning_rate(learning_rate)
        beta_1 = BETA_1.check(beta_1)
        beta_2 = BETA_2.check(beta_2)
        epsilon = EPSILON.check(epsilon)
        bias_correction = BIAS_CORRECTION.check(bias_correction)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.bias_correction = bias_correction

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        # Scalars are computed in at least float32: in bfloat16, 0.999 rounds to 1.0 and
        # 1 - beta_2**t would be 0.
        scalar_dtype = "float64" if dtype == "float64" else "float32"
        lr = ops.cast(learning_rate, scalar_dtype)
        least_epsilon = epsilon_floor(dtype)
        epsilon = ops.convert_to_tensor(max(self.epsilon, least_epsilon), scalar_dtype)
        if self.bias_correction:
            # lr * m_hat / (sqrt(v_hat) + eps) == alpha * m / (sqrt(v) + eps * sqrt(bc_2))
            # exactly, with alpha = lr * sqrt(bc_2) / bc_1: the corrections fold into two
            # scalars instead of two extra passes over m and v.
            t = ops.cast(self.iterations + 1, scalar_dtype)
            beta_1 = ops.convert_to_tensor(self.beta_1, scalar_dtype)
            beta_2 = ops.convert_to_tensor(self.beta_2, scalar_dtype)
            sqrt_bc_2 = ops.sqrt(1 - ops.power(beta_2, t))
            alpha = ops.divide(ops.multiply(lr, sqrt_bc_2), (1 - ops.power(beta_1, t)))
            epsilon = ops.multiply(epsilon, sqrt_bc_2)
            # sqrt(bc_2) is smallest at t = 1; only an epsilon that could then fall below
            # the floor needs the extra op (the factor 2 covers float32's rounding).
            if self.epsilon * math.sqrt(1 - self.beta_2) < 2 * least_epsilon:
                epsilon = ops.maximum(epsilon, least_epsilon)
        else:
            alpha = lr
        alpha = ops.cast(alpha, dtype)
        epsilon = ops.cast(epsilon, dtype)
        # convert_to_tensor, not cast: cast would round a Python float through float32.
        one_minus_beta_1 = ops.convert_to_tensor(1 - self.beta_1, dtype)
        beta_2 = ops.convert_to_tensor(self.beta_2, dtype)
        one_minus_beta_2 = ops.convert_to_tensor(1 - self.beta_2, dtype)
        g = ops.cast(gradient, dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]

        # m + (g - m) * (1 - beta_1) is the same average, updated in place. Its inf - inf
        # needs an infinite m: after an infinite gradient, whose step is NaN in any form
        # (inf / inf), or once g - m overflows, with gradients beyond half the dtype's
        # largest value (32752 in float16).
        self.assign_add(m, ops.multiply(ops.subtract(g, m), one_minus_beta_1))
        # Not so v: squares overflow far sooner (gradients above 256 in float16), and
        # v + (g**2 - v) * (1 - beta_2) would then compute inf - inf at the next step.
        self.assign(
            v, ops.add(ops.multiply(v, beta_2), ops.multiply(ops.square(g), one_minus_beta_2))
        )
        # m * (alpha / (sqrt(v) + eps)) == alpha * m / (sqrt(v) + eps): alpha scales the
        # denominator's temporary array instead of a fresh copy of m, one allocation fewer.
        self.assign_sub(
            variable, ops.multiply(m, ops.divide(alpha, (ops.add(ops.sqrt(v), epsilon))))
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "bias_correction": self.bias_correction,
            }
        )
        return config
