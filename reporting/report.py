"""Everything a finished (or interrupted) run leaves in its folder, and the terminal summary."""

import io
import os

import numpy as np

from reporting.files import EventFile, event_files, write_atomically
from reporting.plots import plot_loss_curves, plot_lr_sensitivity
from reporting.summary import SUMMARY_COLUMNS, TRIAL_COLUMNS, Comparison, format_table, write_rows

FIGURE_TAG = "figures"


def write_report(results, data, run_dir, target_loss=None):
    """Prints the summary table, then writes trials.csv, summary.csv/.json, the figures (PNG
    and GIF), paths.npz, and the figures as TensorBoard images in the run's own event file.

    The table is printed first: if the disk is full, the terminal still has it. Returns the
    Comparison.
    """
    comparison = Comparison(results, target_loss)
    rows = comparison.summary_rows()
    print("\n" + format_table(rows, comparison.targets))
    for row in rows:
        if row["best_lr_at_grid_edge"]:
            print(f"Note: {row['optimizer']}'s best learning rate on {row['model']} ({row['learning_rate']:g}) is "
                  "the edge of the grid tried; widen it (--lr) to be sure it is the best")
    written = write_rows(comparison.trial_rows(), TRIAL_COLUMNS, run_dir, "trials")
    written += write_rows(rows, SUMMARY_COLUMNS, run_dir, "summary")
    figures = [plot_loss_curves(comparison, os.path.join(run_dir, "loss_curves.png"))]
    if comparison.swept:
        figures.append(plot_lr_sensitivity(comparison, os.path.join(run_dir, "lr_sensitivity.png")))
    figures += write_hills(comparison, data, run_dir)
    log_figures(figures, run_dir)
    written += figures
    print(f"\nWritten to {run_dir}: " + ", ".join(os.path.basename(p) for p in written))
    return comparison


def write_hills(comparison, data, run_dir):
    """paths.npz, hill_<model>.png and hill_<model>.gif for every two-weight model: each
    optimizer's path at its best learning rate (its first seed)."""
    from reporting.hill import animate_hill, plot_hill, two_weight_landscape

    paths, figures = {}, []
    for model in comparison.models:
        best = {o: rs[0] for (m, o), rs in comparison.best.items() if m == model and rs[0].path is not None}
        if not best:
            continue
        for optimizer, result in best.items():
            paths[f"{model}/{optimizer}"] = result.path
        seed = next(iter(best.values())).trial.seed
        landscape = two_weight_landscape(model, data[model].split(seed))
        figures.append(plot_hill(landscape, best, os.path.join(run_dir, f"hill_{model}.png")))
        figures.append(animate_hill(landscape, best, os.path.join(run_dir, f"hill_{model}.gif")))
    if paths:
        figures.insert(0, write_atomically(os.path.join(run_dir, "paths.npz"),
                                           lambda f: np.savez(f, **paths), mode="wb"))
    return figures


def log_figures(paths, run_dir):
    """The PNG and GIF figures as TensorBoard images, tagged figures/<name>, in the run
    folder's own event file. The new file appears whole, then replaces the one an earlier
    report of this run wrote (found by exact name: a run's name may hold `*` or `[`)."""
    from PIL import Image

    earlier = event_files(run_dir)
    events = EventFile(run_dir, atomic=True)
    try:
        for path in paths:
            name = os.path.basename(path)
            if name.endswith((".png", ".gif")):
                with open(path, "rb") as f:
                    encoded = f.read()
                width, height = Image.open(io.BytesIO(encoded)).size
                events.image(f"{FIGURE_TAG}/{name}", encoded, width, height)
        events.close()
    except BaseException:
        events.discard()
        raise
    for old in earlier:
        os.remove(old)
