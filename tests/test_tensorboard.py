"""What a user sees in TensorBoard, asked of a real `tensorboard` server over its HTTP API:
the runs, their charts and images, and the HParams dashboard's experiment and sessions."""

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from PIL import Image

from runs import read_summary, run_folders, train

ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Board:
    def __init__(self, logdir):
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
             "--port", str(self.port), "--reload_interval", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def get(self, path, body=None, raw=False):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return (response.headers["Content-Type"], response.read()) if raw else json.loads(response.read())

    def wait_until_read(self, count, timeout=180):
        """Until TensorBoard lists `count` runs, each with a chart or an image, and two looks
        a reload apart find the same tags: it has read every file, however slow the machine."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                runs = self.get("/data/runs")
                now = (runs, self.get("/data/plugin/scalars/tags"), self.get("/data/plugin/images/tags"))
            except OSError:
                now = None
            if now and len(runs) >= count and all(now[1].get(r) or now[2].get(r) for r in runs) and now == last:
                return
            last = now
            time.sleep(1.5)  # past --reload_interval
        raise TimeoutError(f"TensorBoard did not read {count} runs")

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """Two invocations in one logdir, as a user makes them, and TensorBoard on it."""
    logdir = tmp_path_factory.mktemp("logs")
    for args in (["--quick"], ["--quick", "--opt", "adam", "--model", "linear"]):
        result = train(*args, logdir=logdir)
        assert result.returncode == 0, result.stderr
        time.sleep(1.1)  # run folders are named by the second
    folders = run_folders(logdir)
    board = Board(logdir)
    board.wait_until_read(9 + len(folders))  # a run per trial, and each invocation's figures
    yield board, folders
    board.close()


def _experiment(board):
    return board.get("/data/plugin/hparams/experiment", {"experimentName": ""})


def _session_groups(board):
    experiment = _experiment(board)
    columns = ([{"hparam": h["name"]} for h in experiment["hparamInfos"]]
               + [{"metric": m["name"]} for m in experiment["metricInfos"]])
    body = {"experimentName": "", "allowedStatuses": ALL_STATUSES, "colParams": columns, "startIndex": 0,
            "sliceSize": 1000}
    return board.get("/data/plugin/hparams/session_groups", body)["sessionGroups"]


def test_every_run_has_a_chart_or_an_image(board):
    board, _ = board
    runs = board.get("/data/runs")
    scalars = board.get("/data/plugin/scalars/tags")
    images = board.get("/data/plugin/images/tags")
    for run in runs:
        assert scalars.get(run) or images.get(run), f"run {run} shows nothing"


def test_figures_are_under_one_prefix_in_the_invocations_own_run(board):
    board, folders = board
    images = board.get("/data/plugin/images/tags")
    for folder in folders:
        name = os.path.basename(folder)
        assert images[name] and all(tag.startswith("figures/") for tag in images[name])


def test_the_hill_animation_plays_in_the_images_dashboard(board):
    board, folders = board
    run = os.path.basename(folders[0])
    query = urllib.parse.urlencode({"run": run, "tag": "figures/hill_linear.gif", "sample": 0})
    (image,) = board.get(f"/data/plugin/images/images?{query}")
    content_type, gif = board.get(f"/data/plugin/images/individualImage?{image['query']}", raw=True)
    assert content_type == "image/gif"
    with Image.open(io.BytesIO(gif)) as animation:
        assert animation.n_frames >= 30
    assert len(gif) < 5 * 2**20


def test_one_session_per_trial_never_merged(board):
    board, folders = board
    groups = _session_groups(board)
    assert len(groups) == 9
    assert all(len(group["sessions"]) == 1 for group in groups)
    assert len({group["name"] for group in groups}) == 9


def test_each_session_shows_its_own_model_and_summary_values(board):
    board, folders = board
    summaries = {}
    for folder in folders:
        for (model, optimizer), row in read_summary(folder).items():
            summaries[os.path.basename(folder), model, optimizer] = row
    for group in _session_groups(board):
        # The session's name reads trial first, then the invocation: "linear/sgd/... @ run".
        trial, invocation = group["name"].split(" @ ")
        assert trial.startswith(f"{group['hparams']['model']}/{group['hparams']['optimizer']}/")
        model, optimizer = group["hparams"]["model"], group["hparams"]["optimizer"]
        metrics = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        assert metrics and all(tag.startswith(f"{model}/") for tag in metrics), metrics
        row = summaries[invocation, model, optimizer]
        # TensorBoard stores float32.
        assert metrics[f"{model}/val_loss"] == pytest.approx(row["val_loss"], rel=1e-6)
        assert group["hparams"]["learning_rate"] == pytest.approx(row["learning_rate"])


def test_columns_shown_first_are_the_ones_compared_by(board):
    board, _ = board
    experiment = _experiment(board)
    # The dashboard shows five hyperparameters, those marked `differs` first, in the order
    # the server gives; and the first five metrics.
    hparams = experiment["hparamInfos"]
    shown = [h["name"] for h in sorted(hparams, key=lambda h: not h.get("differs", False))][:5]
    assert {"model", "optimizer", "learning_rate"} <= set(shown)
    metrics = [m["name"]["tag"] for m in experiment["metricInfos"]][:5]
    assert any(tag.endswith("/val_loss") for tag in metrics)
    assert not any(tag.endswith(("learning_rate", "per_step")) for tag in
                   (m["name"]["tag"] for m in experiment["metricInfos"]))
