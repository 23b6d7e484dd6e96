"""The comparison's tables as text and files: the terminal summary (and the same as Markdown,
for TensorBoard's Text dashboard), trials.csv, summary.csv and summary.json."""

import csv
import io
import json
import math
import os

from comparison.verdict import TEST, Verdict
from reporting.files import write_atomically


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def _with_spread(mean, spread):
    return _cell(mean) if spread is None else f"{_cell(mean)} ± {spread:.2g}"


_HEADER = ["model", "optimizer", "lr", "seeds", "train loss", "val loss", "train acc", "val acc", "epochs",
           "to target", "seconds", "vs the best", "status"]


def _cells(row):
    verdict = Verdict(row["verdict"], row["p_value"], row["seeds_needed"])
    return [
        row["model"], row["optimizer"], _cell(row["learning_rate"]), str(row["seeds"]),
        _cell(row["train_loss"]), _with_spread(row["val_loss"], row["val_loss_std"]),
        _cell(row["train_accuracy"]), _with_spread(row["val_accuracy"], row["val_accuracy_std"]),
        str(row["epochs"]), _cell(row["epochs_to_target"]), _cell(row["seconds"]),
        "-" if verdict.verdict == "untested" else str(verdict), row["status"],
    ]


def _notes(rows, targets):
    known = {m: t for m, t in targets.items() if t is not None}
    notes = []
    if known:
        notes.append("target loss (for 'to target'): " + ", ".join(f"{m} {t:.4g}" for m, t in known.items()))
    if any(row["verdict"] in ("tie", "worse") for row in rows):
        notes.append(f"vs the best: {TEST}; tie = not told apart (needs N seeds: per rule, to tell it apart at "
                     "80 % power, if the gap and spreads hold)")
    elif len(rows) > 1:
        notes.append("vs the best: one seed per rule cannot tell rules apart; --seeds 3 or more can")
    return notes


def format_table(rows, targets):
    """The terminal summary: one line per model and optimizer at its best learning rate."""
    cells = [_HEADER] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + _notes(rows, targets))


# The Text dashboard's panel is narrow: the columns a reader compares by.
_MARKDOWN = ["model", "optimizer", "lr", "seeds", "val loss", "val acc", "to target", "vs the best", "status"]


def markdown_table(rows, targets):
    """The same table in Markdown, for TensorBoard's Text dashboard (the loss column is a
    surface's height where it has no validation loss)."""
    keep = [_HEADER.index(name) for name in _MARKDOWN]
    lines = ["| " + " | ".join(_MARKDOWN) + " |", "|" + "---|" * len(_MARKDOWN)]
    for row, cells in zip(rows, map(_cells, rows)):
        if row["val_loss"] is None:  # a surface: its height
            cells[_HEADER.index("val loss")] = f"{cells[_HEADER.index('train loss')]} (height)"
        lines.append("| " + " | ".join(cells[i] for i in keep) + " |")
    return "\n".join(lines + [""] + [f"{note}  " for note in _notes(rows, targets)])


def _json_safe(value):
    # JSON has no NaN or infinity: a diverged loss is written as the string "nan" or "inf".
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def csv_text(rows, columns):
    """The rows as CSV, exactly as the run's .csv files hold them (None is empty)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: ("" if row[k] is None else row[k]) for k in columns} for row in rows)
    return text.getvalue()


def write_rows(rows, columns, run_dir, stem):
    """Writes `<stem>.csv` (and for the summary `<stem>.json`) into the run folder."""
    text = csv_text(rows, columns)
    paths = [write_atomically(os.path.join(run_dir, f"{stem}.csv"), lambda f: f.write(text), newline="")]
    if stem == "summary":
        paths.append(write_atomically(
            os.path.join(run_dir, "summary.json"),
            lambda f: json.dump([{k: _json_safe(row[k]) for k in columns} for row in rows], f, indent=2)))
    return paths
