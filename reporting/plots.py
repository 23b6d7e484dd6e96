"""The comparison's figures: loss curves at each optimizer's best learning rate, and how the
final loss depends on the learning rate. (The hills are in reporting.hill.)"""

import math
import statistics

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

from comparison.results import mean_curve
from reporting.colors import colors_for


def _log_if_wide(ax, values):
    # Losses span decades early in training: a log axis shows the whole descent.
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 20:
        ax.set_yscale("log")


def _grid(count, width, height):
    """A figure with `count` panels, at most three to a row, each width x height inches;
    the panels past `count` hidden. Returns (figure, the first `count` axes)."""
    columns = min(3, count)
    rows = -(-count // columns)
    fig = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def loss_curves_figure(comparison):
    """Per model, one panel per metric (train loss, validation loss, validation accuracy):
    each optimizer at its best learning rate, the mean over seeds with a min-max band."""
    color = colors_for(comparison.optimizers).__getitem__
    panels = []
    for model in comparison.models:
        best = {o: rs for (m, o), rs in comparison.best.items() if m == model}
        first = next(iter(best.values()))[0]
        for metric in ("train_loss", "val_loss", "val_accuracy"):
            if first.history.get(metric):
                panels.append((model, metric, best))
    fig, axes = _grid(len(panels), 5.2, 3.9)
    for ax, (model, metric, best) in zip(axes, panels):
        shown = []
        for optimizer, results in best.items():
            mean, low, high = mean_curve(results, metric)
            epochs = np.arange(1, len(mean) + 1)
            seeds = len(results)
            label = f"{optimizer} (lr {results[0].trial.learning_rate:g}" + (f", {seeds} seeds)" if seeds > 1 else ")")
            if len(mean) == 1:
                # One epoch (a --quick run) is a point per optimizer, not a curve.
                ax.errorbar(epochs, mean, yerr=[[mean[0] - low[0]], [high[0] - mean[0]]], color=color(optimizer),
                            marker="o", capsize=4, label=label)
            else:
                ax.plot(epochs, mean, color=color(optimizer), label=label)
                if seeds > 1:
                    ax.fill_between(epochs, low, high, color=color(optimizer), alpha=0.2, linewidth=0)
            shown += low + high
        if metric != "val_accuracy":
            _log_if_wide(ax, shown)
        split = "validation" if metric.startswith("val_") else "train"
        quantity = "accuracy" if metric.endswith("accuracy") else "loss"
        ax.set_title(f"{model}: {split} {quantity}")
        ax.set_xlabel("epoch" if len(mean) > 1 else "after 1 epoch")
        if len(mean) == 1:
            ax.set_xticks([1])
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    seeds = any(len(rs) > 1 for rs in comparison.best.values())
    fig.suptitle(("Each optimizer at its best learning rate" if comparison.swept else "Each optimizer")
                 + (" (mean over seeds, band: min to max)" if seeds else ""))
    return fig


def lr_sensitivity_figure(comparison):
    """Per model: final loss against learning rate (log x), one line per optimizer: the
    mean over seeds (over those that did not diverge), as the best rate is chosen, with a
    min-max band; diverged trials marked with x at the top."""
    color = colors_for(comparison.optimizers).__getitem__
    models = comparison.models
    fig, axes = _grid(len(models), 6.2, 4.6)
    for ax, model in zip(axes, models):
        results = [r for r in comparison.results if r.trial.model == model and r.status != "interrupted"]
        finite = [r.score for r in results if math.isfinite(r.score)]
        ceiling = max(finite) * 1.5 if finite else 1.0
        for optimizer in dict.fromkeys(r.trial.optimizer for r in results):
            by_rate = {}
            for r in results:
                if r.trial.optimizer == optimizer:
                    by_rate.setdefault(r.trial.learning_rate, []).append(r.score)
            rates = sorted(by_rate)
            ok = [lr for lr in rates if any(math.isfinite(s) for s in by_rate[lr])]
            scores = {lr: [s for s in by_rate[lr] if math.isfinite(s)] for lr in ok}
            ax.plot(ok, [statistics.fmean(scores[lr]) for lr in ok], color=color(optimizer), marker="o",
                    markersize=4, label=optimizer)
            ax.fill_between(ok, [min(scores[lr]) for lr in ok], [max(scores[lr]) for lr in ok],
                            color=color(optimizer), alpha=0.2, linewidth=0)
            bad = [lr for lr in rates for s in by_rate[lr] if not math.isfinite(s)]
            if bad:
                ax.plot(bad, [ceiling] * len(bad), linestyle="none", marker="x", markersize=8,
                        color=color(optimizer))
            best = comparison.best[model, optimizer][0].trial.learning_rate
            if best in scores:
                ax.plot([best], [statistics.fmean(scores[best])], marker="*", markersize=14,
                        color=color(optimizer), markeredgecolor="black", linestyle="none")
        ax.set_xscale("log")
        _log_if_wide(ax, finite + [ceiling])
        has_validation = any(r.history.get("val_loss") for r in results)
        ax.set_ylabel("final validation loss" if has_validation else "final height (loss)")
        ax.set_xlabel("learning rate")
        ax.set_title(f"{model}: sensitivity to the learning rate")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small", title="mean over seeds; band min-max;\n* best, x diverged",
                  title_fontsize="x-small")
    return fig


def performance_profile_figure(profile):
    """rho_s(tau) against tau on a log2 axis from 1 to 4, one line per optimizer, its score in
    the legend: in epochs (left) and in seconds (right). See comparison.profiles."""
    color = colors_for(list(profile.scores)).__getitem__
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    taus = np.exp2(np.linspace(0, 2, 401))  # 1 to 4
    for ax, unit in zip(fig.subplots(1, 2), ("epochs", "seconds")):
        ranked = sorted(profile.ratios(unit).items(), key=lambda item: -profile.scores[item[0]][unit])
        # Rules whose steps coincide stay visible as nested stripes: the first drawn is the widest.
        for (optimizer, ratios), width in zip(ranked, np.linspace(5, 1.5, len(ranked))):
            rho = [np.mean([r <= tau for r in ratios]) for tau in taus]
            ax.step(taus, rho, where="post", color=color(optimizer), linewidth=width,
                    label=f"{optimizer}: score {profile.scores[optimizer][unit]:.3f}")
        ax.set_xscale("log", base=2)
        ax.set_xlim(1, 4)
        ax.set_xticks([1, 1.5, 2, 3, 4], labels=["1", "1.5", "2", "3", "4"])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"tau: within this factor of the fastest rule's {unit} to the target")
        ax.set_ylabel(f"share of the {len(profile.models)} problems")
        ax.set_title(f"Performance profile, {unit} to each model's fixed target")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small", title="score: area under the curve / 3", title_fontsize="x-small",
                  loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2)
    return fig
