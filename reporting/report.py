"""Everything a finished (or interrupted) run leaves in its folder, and the terminal summary.

`write_report` prints the summary and writes, each file whole or not at all: trials.csv,
summary.csv and summary.json, the figures (PNG, and a GIF per two-weight model), paths.npz,
and what TensorBoard shows beside the trials (reporting/board.py: the figures, the summary
as Text, the Custom Scalars layout, a mean-over-seeds run per model and optimizer).
`figures` makes the same figures as matplotlib Figures, for `compare()`'s result.
"""

import os

import numpy as np

from comparison.profiles import PROFILE_COLUMNS, performance_profile
from comparison.results import SUMMARY_COLUMNS, TRIAL_COLUMNS
from reporting.board import log_report
from reporting.files import write_atomically
from reporting.hill import animate_hill, hill_figure
from reporting.plots import loss_curves_figure, lr_sensitivity_figure, performance_profile_figure
from reporting.tables import format_table, write_rows

_DPI = {"loss_curves": 110, "lr_sensitivity": 110, "performance_profile": 110}  # the hills: 150


def walks(comparison, data, models):
    """For each two-weight model: (its landscape, {optimizer: its result at its best learning
    rate, first seed}), the paths the hills draw and paths.npz holds."""
    found = {}
    for model in comparison.models:
        best = {o: rs[0] for (m, o), rs in comparison.best.items()
                if m == model and rs[0].path is not None and len(rs[0].path)}  # stopped before a step: none
        if best:
            seed = next(iter(best.values())).trial.seed
            found[model] = models[model].landscape(data[model].split(seed)), best
    return found


def figures(comparison, data, models, profile=None, hills=None):
    """{name: matplotlib Figure}: loss_curves, lr_sensitivity (when several learning rates
    were tried), performance_profile (two or more models) and hill_<model> for each
    two-weight model. `profile` and `hills` (walks) when the caller has them already."""
    made = {"loss_curves": loss_curves_figure(comparison)}
    if comparison.swept:
        made["lr_sensitivity"] = lr_sensitivity_figure(comparison)
    profile = profile or performance_profile(comparison, models)
    if profile:
        made["performance_profile"] = performance_profile_figure(profile)
    for model, (landscape, best) in (hills if hills is not None else walks(comparison, data, models)).items():
        made[f"hill_{model}"] = hill_figure(landscape, best)
    return made


def print_summary(comparison, rows, profile, print=print):
    print("\n" + format_table(rows, comparison.targets))
    if profile:
        print(f"Performance profile over {len(profile.models)} models (each rule at its best learning rate, to each "
              "model's fixed target; score: the area under rho(tau) for tau from 1 to 4, / 3; 1 = fastest on all):")
        for unit in ("epochs", "seconds"):
            ranked = sorted(profile.scores.items(), key=lambda item: -item[1][unit])
            print(f"  in {unit + ':':<8} " + ", ".join(f"{o} {s[unit]:.3f}" for o, s in ranked))
    for row in rows:
        if row["best_lr_at_grid_edge"]:
            print(f"Note: {row['optimizer']}'s best learning rate on {row['model']} ({row['learning_rate']:g}) is "
                  "the edge of the grid tried; widen it (--lr) to be sure it is the best")


def write_report(comparison, data, models, run_dir, print=print, final=None):
    """Prints the summary table, then writes the run's files (see the module's docstring)
    in `run_dir`, and says they are in `final` (default: `run_dir`; --overwrite writes
    beside the run it replaces, then swaps the two).

    The table is printed first: if the disk is full, the terminal still has it. Returns the
    paths written.
    """
    rows = comparison.summary_rows()
    profile = performance_profile(comparison, models)
    print_summary(comparison, rows, profile, print)
    written = write_rows(comparison.trial_rows(), TRIAL_COLUMNS, run_dir, "trials")
    written += write_rows(rows, SUMMARY_COLUMNS, run_dir, "summary")
    if profile:
        written += write_rows(profile.rows, PROFILE_COLUMNS, run_dir, "profile")
    hills = walks(comparison, data, models)
    images = []
    for name, figure in figures(comparison, data, models, profile, hills).items():
        path = os.path.join(run_dir, f"{name}.png")
        images.append(write_atomically(path, lambda f: figure.savefig(f, format="png", dpi=_DPI.get(name, 150)),
                                       mode="wb"))
        model = name.removeprefix("hill_")
        if model in hills:
            landscape, best = hills[model]
            images.append(animate_hill(landscape, best, os.path.join(run_dir, f"hill_{model}.gif")))
    if hills:
        paths = {f"{model}/{o}": r.path for model, (_, best) in hills.items() for o, r in best.items()}
        written.append(write_atomically(os.path.join(run_dir, "paths.npz"), lambda f: np.savez(f, **paths),
                                        mode="wb"))
    log_report(comparison, rows, images, run_dir)
    written += images
    print(f"\nWritten to {final or run_dir}: " + ", ".join(os.path.basename(p) for p in written))
    return written
