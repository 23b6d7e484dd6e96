"""The comparison as a library: compare() from a fresh interpreter, its results against the
files it writes, an optimizer of the user's own beside the four, the example notebook run by
a real Jupyter kernel, and a fifth optimizer added in the two files the README names."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from runs import ROOT, one_line_error, plugin_tags, read_trials, run_folders, train

_COMPARE = """
import json, sys
import keras
import pandas as pd
from comparison import compare
result = compare(models=["linear"], optimizers={"adam": "adam",
                 "keras_adam": lambda learning_rate: keras.optimizers.Adam(learning_rate=learning_rate)},
                 learning_rates=[0.1], logdir=sys.argv[1], verbose=0)
trials = pd.read_csv(f"{result.path}/trials.csv")
summary = pd.read_csv(f"{result.path}/summary.csv")
pd.testing.assert_frame_equal(result.trials, trials)
pd.testing.assert_frame_equal(result.summary, summary)
html = result._repr_html_()
print(json.dumps({"optimizers": list(result.summary["optimizer"]), "figures": sorted(result.figures),
                  "html": "<table" in html and "data:image/png;base64" in html, "path": result.path}))
"""


def test_compare_from_a_fresh_interpreter_returns_the_files_values(tmp_path):
    result = subprocess.run([sys.executable, "-c", _COMPARE, str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["optimizers"] == ["adam", "keras_adam"]  # the factory's optimizer is its own row
    assert found["figures"] == ["hill_linear", "loss_curves"] and found["html"]
    assert found["path"] == run_folders(tmp_path)[0]


def test_bad_arguments_raise_value_error_with_the_command_lines_message(tmp_path):
    from comparison import compare

    for keywords, flag in [({"momentum": 1.5}, "--momentum"), ({"models": ["nope"]}, "--model"),
                           ({"learning_rates": [-1]}, "--lr"), ({"epochs": 0}, "--epochs")]:
        with pytest.raises(ValueError) as caught:
            compare(logdir=tmp_path / "logs", **keywords)
        args = [flag, {"--momentum": "1.5", "--model": "nope", "--lr": "-1", "--epochs": "0"}[flag]]
        assert one_line_error(train(*args, logdir=tmp_path / "logs")) == f"train.py: error: {caught.value}"
    assert not (tmp_path / "logs").exists()


def test_keras_builtin_beside_ours_on_the_command_line(tmp_path):
    result = train("--opt", "adam", "keras:adam", "--model", "linear", "--quick", logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_trials(run_folders(tmp_path)[0])
    assert [(r["optimizer"], float(r["learning_rate"])) for r in rows] == [("adam", 0.1), ("keras:adam", 0.001)]
    assert any(line.split()[:2] == ["linear", "keras:adam"] for line in result.stdout.splitlines())


def test_an_unknown_keras_optimizer_is_one_line(tmp_path):
    result = train("--opt", "keras:nosuch", "--model", "linear", "--quick", logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert "keras:nosuch" in one_line_error(result)
    assert not (tmp_path / "logs").exists()


def test_the_example_notebook_runs_in_a_real_kernel(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    examples = tmp_path / "examples"
    examples.mkdir()
    shutil.copy(os.path.join(ROOT, "examples", "compare_optimizers.ipynb"), examples)
    notebook = nbformat.read(examples / "compare_optimizers.ipynb", as_version=4)
    # The kernel starts in the copy's folder, so its runs go to tmp_path/logs; the packages
    # come from the repository.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(examples)}}
                   ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    rich = [o for o in outputs if o.output_type == "execute_result"]
    assert any("text/html" in o.data and "<table" in o.data["text/html"] for o in rich)  # the result's own view
    assert any("image/png" in o.data for o in outputs if "data" in o)  # the hill figure
    assert len(run_folders(tmp_path / "logs")) == 3


_NESTEROV = '''import keras
from keras import ops

from optimizers.hyperparameters import MOMENTUM, check_learning_rate


@keras.saving.register_keras_serializable(package="optimizers")
class Nesterov(keras.optimizers.Optimizer):
    """Nesterov momentum, in the article's averaged form: the step looks one velocity ahead.

    ```
    v = momentum * v + (1 - momentum) * g
    w = w - learning_rate * (momentum * v + (1 - momentum) * g)
    ```
    """

    def __init__(self, learning_rate=0.01, momentum=MOMENTUM.default, **kwargs):
        learning_rate = check_learning_rate(learning_rate)
        momentum = MOMENTUM.check(momentum)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        g = ops.cast(gradient, variable.dtype)
        lr = ops.cast(learning_rate, variable.dtype)
        v = self._velocities[self._get_variable_index(variable)]
        self.assign(v, ops.add(ops.multiply(v, self.momentum), ops.multiply(g, 1 - self.momentum)))
        self.assign_sub(variable, ops.multiply(lr, ops.add(ops.multiply(v, self.momentum),
                                                           ops.multiply(g, 1 - self.momentum))))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum})
        return config
'''


def test_a_fifth_optimizer_is_its_module_and_one_registry_line(tmp_path):
    # The README's "Adding an optimizer", done in a copy of the repository: a module in
    # optimizers/ and one line in optimizers/registry.py; then the CLI runs it, HParams shows
    # its hyperparameters, and the figures draw it in its colour.
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "logs", "__pycache__", "docs"))
    (copy / "optimizers" / "nesterov.py").write_text(_NESTEROV)
    registry = (copy / "optimizers" / "registry.py").read_text()
    line = '        OptimizerSpec("adam", "optimizers.adam.Adam", "tab:red", ("beta_1", "beta_2", "epsilon", "bias_correction")),\n'
    assert line in registry
    (copy / "optimizers" / "registry.py").write_text(registry.replace(
        line, line + '        OptimizerSpec("nesterov", "optimizers.nesterov.Nesterov", "tab:purple", ("momentum",)),\n'))
    result = subprocess.run([sys.executable, str(copy / "train.py"), "--opt", "momentum", "nesterov", "--model",
                             "linear", "bumpy", "--quick", "--momentum", "0.8", "--logdir", str(tmp_path / "logs")],
                            cwd=copy, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    run_dir = run_folders(tmp_path / "logs")[0]
    rows = read_trials(run_dir)
    assert [(r["model"], r["optimizer"]) for r in rows] == [
        ("linear", "momentum"), ("linear", "nesterov"), ("bumpy", "momentum"), ("bumpy", "nesterov")]
    # Its class's default learning rate on models that have none for it, its hyperparameter
    # from the flag, in HParams.
    assert {float(r["learning_rate"]) for r in rows if r["optimizer"] == "nesterov"} == {0.01}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(os.path.join(run_dir, rows[1]["run"]))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["optimizer"].string_value == "nesterov" and hparams["momentum"].number_value == 0.8
    assert {"figures/hill_bumpy.gif", "figures/loss_curves.png"} <= plugin_tags(run_dir, "images")
    with __import__("numpy").load(os.path.join(run_dir, "paths.npz")) as paths:
        assert "bumpy/nesterov" in paths.files
