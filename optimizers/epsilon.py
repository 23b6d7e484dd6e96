"""The least epsilon that still keeps a division by zero away, for each weight dtype."""

import keras

# The smallest positive normal number of each floating dtype. An epsilon below it is 0 in
# that dtype (float16 rounds the default 1e-8 to 0) or subnormal, which TensorFlow's CPU
# kernels and XLA flush to 0: either way a zero gradient's step becomes 0 / 0 = NaN.
# bfloat16 has float32's exponent range.
SMALLEST_NORMAL = {
    "float16": 2.0**-14,
    "bfloat16": 2.0**-126,
    "float32": 2.0**-126,
    "float64": 2.0**-1022,
}


def epsilon_floor(dtype):
    """The smallest epsilon a step in `dtype` may add: float16 6.1e-5, float32 1.2e-38."""
    # On TensorFlow, update_step sees a tf.DType; standardize_dtype names it as a string.
    return SMALLEST_NORMAL[keras.backend.standardize_dtype(dtype)]
