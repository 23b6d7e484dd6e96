"""Everything a finished (or interrupted) comparison leaves in its run folder."""

import os

from reporting.plots import log_figures, plot_hill, plot_loss_curves
from reporting.summary import format_table, summary_rows, write_summary


def write_report(results, splits, run_dir):
    """Prints the summary table and writes summary.csv/.json, the figures as PNG, and the
    figures as TensorBoard images (run `figures`)."""
    rows = summary_rows(results)
    print("\n" + format_table(rows))
    written = list(write_summary(rows, run_dir))
    if results:
        figures = [plot_loss_curves(results, os.path.join(run_dir, "loss_curves.png"))]
        linear = [r for r in results if r.path is not None]
        if linear:
            split = splits[linear[0].model]
            figures.append(plot_hill(linear, split.x_train, split.y_train, os.path.join(run_dir, "hill.png")))
        log_figures(figures, os.path.join(run_dir, "figures"))
        written += figures
    print("\nWritten to " + run_dir + ": " + ", ".join(os.path.basename(p) for p in written))
