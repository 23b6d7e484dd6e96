"""The end-of-run summary: one row per model x optimizer, on the terminal and on disk."""

import csv
import json
import math
import os

COLUMNS = [
    "model", "optimizer", "learning_rate", "train_loss", "val_loss",
    "train_accuracy", "val_accuracy", "epochs", "seconds", "diverged", "status",
]


def summary_rows(results):
    return [
        {
            "model": r.model,
            "optimizer": r.optimizer,
            "learning_rate": r.learning_rate,
            "train_loss": r.final("loss"),
            "val_loss": r.final("val_loss"),
            "train_accuracy": r.final("accuracy"),
            "val_accuracy": r.final("val_accuracy"),
            "epochs": r.epochs,
            "seconds": round(r.seconds, 2),
            "diverged": r.status == "diverged",
            "status": r.status,
        }
        for r in results
    ]


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


def format_table(rows):
    header = ["model", "optimizer", "lr", "train loss", "val loss", "train acc", "val acc",
              "epochs", "seconds", "diverged"]
    keys = COLUMNS[:-1]
    cells = [header] + [[_cell(row[k]) for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _json_safe(value):
    # JSON has no NaN or infinity: a diverged loss is written as the string "nan"/"inf".
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_summary(rows, run_dir):
    """Writes summary.csv and summary.json into the run folder; returns their paths."""
    csv_path = os.path.join(run_dir, "summary.csv")
    json_path = os.path.join(run_dir, "summary.json")
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    with open(json_path, "w") as f:
        json.dump([{k: _json_safe(v) for k, v in row.items()} for row in rows], f, indent=2)
    return csv_path, json_path
