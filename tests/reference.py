"""Float64 numpy references of the four rules, written from docs/article.md, independent of the Keras code.

Each `step(w, g, state, t, **hp)` returns the new weights and state; `t` is 1-based.
"""

import numpy as np


def sgd(w, g, state, t, learning_rate):
    return w - learning_rate * g, state


def momentum(w, g, state, t, learning_rate, momentum=0.9):
    v = state.get("v", np.zeros_like(w))
    v = momentum * v + (1 - momentum) * g
    return w - learning_rate * v, {"v": v}


def rmsprop(w, g, state, t, learning_rate, rho=0.9, epsilon=1e-8):
    s = state.get("s", np.zeros_like(w))
    s = rho * s + (1 - rho) * g**2
    return w - learning_rate * g / (np.sqrt(s) + epsilon), {"s": s}


def adam(w, g, state, t, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
         bias_correction=True):
    m = state.get("m", np.zeros_like(w))
    v = state.get("v", np.zeros_like(w))
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    if bias_correction:
        m_hat = m / (1 - beta_1**t)
        v_hat = v / (1 - beta_2**t)
        w = w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    else:
        w = w - learning_rate * m / (np.sqrt(v) + epsilon)
    return w, {"m": m, "v": v}


# PyTorch's own operation order, transcribed from torch/optim/rmsprop.py and adam.py
# (single-tensor path, no weight decay, no amsgrad, not centered, no momentum).

def torch_rmsprop(w, g, state, t, learning_rate, rho=0.9, epsilon=1e-8):
    square_avg = state.get("square_avg", np.zeros_like(w))
    square_avg = square_avg * rho + (1 - rho) * g * g  # mul_(alpha).addcmul_(grad, grad, value=1-alpha)
    avg = np.sqrt(square_avg) + epsilon  # square_avg.sqrt().add_(eps)
    return w + (-learning_rate) * (g / avg), {"square_avg": square_avg}  # addcdiv_(grad, avg, value=-lr)


def torch_adam(w, g, state, t, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    exp_avg = state.get("exp_avg", np.zeros_like(w))
    exp_avg_sq = state.get("exp_avg_sq", np.zeros_like(w))
    exp_avg = exp_avg + (g - exp_avg) * (1 - beta_1)  # lerp_(grad, 1 - beta1)
    exp_avg_sq = exp_avg_sq * beta_2 + (1 - beta_2) * g * g  # mul_(beta2).addcmul_(grad, grad, 1-beta2)
    bias_correction1 = 1 - beta_1**t
    bias_correction2 = 1 - beta_2**t
    step_size = learning_rate / bias_correction1
    denom = np.sqrt(exp_avg_sq) / np.sqrt(bias_correction2) + epsilon
    return w + (-step_size) * (exp_avg / denom), {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}


RULES = {"sgd": sgd, "momentum": momentum, "rmsprop": rmsprop, "adam": adam}
