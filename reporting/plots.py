"""The figures: loss curves per model, and the hill (the linear model's loss surface
with each optimizer's path over it). Saved as PNG and logged to TensorBoard as images."""

import math
import os

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

from optimizers import OPTIMIZERS

# One colour per optimizer, the same in every figure.
_COLORS = dict(zip(OPTIMIZERS, ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]))


def _color(name):
    return _COLORS.get(name, "black")


def _finite(values):
    return [v for v in values if v is not None and math.isfinite(v)]


def plot_loss_curves(results, path):
    """One panel per model metric: each optimizer's train (solid) and validation (dashed) line."""
    panels = []
    for model in dict.fromkeys(r.model for r in results):
        runs = [r for r in results if r.model == model]
        if any(r.path_losses for r in runs):
            panels.append((model, "loss_per_step", runs))
        panels.append((model, "loss", runs))
        if any("accuracy" in r.history for r in runs):
            panels.append((model, "accuracy", runs))

    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    fig = Figure(figsize=(6 * columns, 4 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax, (model, metric, runs) in zip(axes, panels):
        for r in runs:
            if metric == "loss_per_step":
                ax.plot(r.path_losses or [], color=_color(r.optimizer), label=r.optimizer)
                continue
            train, val = r.history.get(metric, []), r.history.get(f"val_{metric}", [])
            epochs = range(1, len(train) + 1)
            marker = "o" if len(train) <= 20 else None  # a one-epoch run is a point, not a line
            ax.plot(epochs, train, color=_color(r.optimizer), marker=marker, label=f"{r.optimizer} train")
            ax.plot(epochs[: len(val)], val, color=_color(r.optimizer), linestyle="--", marker=marker,
                    label=f"{r.optimizer} validation")
        values = _finite(v for r in runs for v in (r.path_losses or []) + r.history.get(metric, []))
        # Loss spans decades early in training: a log axis shows the whole descent.
        if metric != "accuracy" and values and min(values) > 0 and max(values) / min(values) > 20:
            ax.set_yscale("log")
        ax.set_title(f"{model}: {metric.replace('_', ' ')}")
        ax.set_xlabel("step" if metric == "loss_per_step" else "epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=100)
    return path


def plot_hill(results, x, y, path):
    """Contours of the mean squared error over (w1, w2), each optimizer's path from the
    start, and the least-squares optimum."""
    x, y = np.asarray(x, "float64"), np.asarray(y, "float64")
    optimum = np.linalg.lstsq(x, y, rcond=None)[0].ravel()
    paths = {r.optimizer: r.path for r in results if r.path is not None}
    start = next(iter(paths.values()))[0]

    # Frame the start and the optimum, and the paths as far as they stay near them: a
    # diverging path would otherwise shrink the hill to a dot.
    span = np.abs(start - optimum).max()
    points = [start, optimum] + [p for path_ in paths.values() for p in path_
                                 if np.all(np.isfinite(p)) and np.abs(p - optimum).max() < 3 * span]
    low, high = np.min(points, axis=0), np.max(points, axis=0)
    pad = 0.15 * (high - low).max()
    w1 = np.linspace(low[0] - pad, high[0] + pad, 200)
    w2 = np.linspace(low[1] - pad, high[1] + pad, 200)
    grid = np.stack(np.meshgrid(w1, w2), axis=-1)  # (200, 200, 2)
    loss = np.mean((grid @ x.T - y.ravel()) ** 2, axis=-1)

    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    levels = np.geomspace(loss.min() * 1.01, loss.max(), 25)
    contours = ax.contourf(w1, w2, loss, levels=levels, cmap="Greys", alpha=0.6)
    fig.colorbar(contours, ax=ax, label="mean squared error", format="%.3g")
    for name, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], color=_color(name), marker=".", markersize=3, linewidth=1.2,
                label=f"{name} ({len(p) - 1} steps)")
    ax.plot(*start, "ko", markersize=7, label=f"start ({start[0]:g}, {start[1]:g})")
    ax.plot(*optimum, "*", color="gold", markeredgecolor="black", markersize=16,
            label=f"least squares ({optimum[0]:.3f}, {optimum[1]:.3f})")
    ax.set_xlim(w1[0], w1[-1])
    ax.set_ylim(w2[0], w2[-1])
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.set_title("The hill: linear regression loss and each optimizer's path")
    ax.legend(fontsize="small", loc="upper left")
    fig.savefig(path, dpi=100)
    return path


def log_figures(png_paths, logdir):
    """Writes the PNG files as TensorBoard image summaries under `logdir`."""
    import tensorflow as tf

    with tf.summary.create_file_writer(logdir).as_default() as writer:
        for png in png_paths:
            image = tf.image.decode_png(tf.io.read_file(png), channels=4)
            tf.summary.image(os.path.splitext(os.path.basename(png))[0], image[None], step=0)
        writer.flush()
