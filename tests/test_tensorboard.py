"""What a user sees in TensorBoard, asked of a real `tensorboard` server (started with the
command train.py prints) over its HTTP API: the runs, their charts and images, the HParams
dashboard's session groups, the mean runs, the Custom Scalars layout and the Text summary."""

import io
import json
import os
import shlex
import socket
import statistics
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from PIL import Image

from runs import ROOT, read_summary, read_trials, run_folders, scalars, train

ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
# 2 optimizers x 2 learning rates x 3 seeds; SGD diverges at 3.16, Momentum (averaged) does not.
SWEEP = ["--model", "linear", "--opt", "sgd", "momentum", "--lr", "0.1", "3.16", "--seeds", "3", "--quick",
         "--run-name", "sweep"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Board:
    def __init__(self, command):
        self.port = _free_port()
        self.process = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(self.port),
                                         "--reload_interval", "1"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

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
    """A small sweep and a default --quick run in one logdir, and TensorBoard on it, started
    with the command train.py prints."""
    logdir = tmp_path_factory.mktemp("logs")
    for args in (SWEEP, ["--quick"]):
        result = train(*args, logdir=logdir)
        assert result.returncode == 0, result.stderr
    (printed,) = [line.removeprefix("Open TensorBoard: ") for line in result.stdout.splitlines()
                  if line.startswith("Open TensorBoard: ")]
    board = Board(shlex.split(printed))
    try:
        # Runs: 12 + 8 trials, 2 + 8 mean runs (one per model and optimizer), the 2 invocations' own.
        board.wait_until_read(12 + 8 + 2 + 8 + 2)
        yield board, logdir
    finally:
        board.close()


def _session_groups(board):
    experiment = board.get("/data/plugin/hparams/experiment", {"experimentName": ""})
    columns = ([{"hparam": h["name"]} for h in experiment["hparamInfos"]]
               + [{"metric": m["name"]} for m in experiment["metricInfos"]])
    # The request the 2.21 dashboard sends: no aggregation given (the server then averages).
    body = {"experimentName": "", "allowedStatuses": ALL_STATUSES, "colParams": columns, "startIndex": 0,
            "sliceSize": 100}
    return board.get("/data/plugin/hparams/session_groups", body)["sessionGroups"]


def _metrics(item):
    return {m["name"]["tag"]: m["value"] for m in item["metricValues"]}


def test_every_run_has_a_chart_or_an_image(board):
    board, _ = board
    scalars_, images = board.get("/data/plugin/scalars/tags"), board.get("/data/plugin/images/tags")
    for run in board.get("/data/runs"):
        assert scalars_.get(run) or images.get(run), f"run {run} shows nothing"


def test_a_session_group_per_setting_its_seeds_the_sessions_its_value_their_mean(board):
    board, logdir = board
    groups = {g["name"]: g for g in _session_groups(board) if g["name"].startswith("sweep/")}
    assert sorted(groups) == [f"sweep/linear/{o}/lr={lr}" for o in ("momentum", "sgd") for lr in ("0.1", "3.16")]
    trials = {row["run"]: row for row in read_trials(logdir / "sweep")}
    for name, group in groups.items():
        _, model, optimizer, rate = name.split("/")
        sessions = sorted(s["name"] for s in group["sessions"])
        assert sessions == [f"sweep/{model}/{optimizer}/{rate},seed={seed}" for seed in (42, 43, 44)]
        assert group["hparams"]["seeds"] == "42-44" and group["hparams"]["invocation"] == "sweep"
        rows = [trials[s.removeprefix("sweep/")] for s in sessions]
        if all(row["status"] == "ok" for row in rows):
            # The group's value is the mean of its sessions', each the trial's final loss.
            for session in group["sessions"]:
                row = trials[session["name"].removeprefix("sweep/")]
                assert _metrics(session)["hparams/loss"] == pytest.approx(float(row["val_loss"]), rel=1e-6)
            mean = statistics.fmean(float(row["val_loss"]) for row in rows)
            assert _metrics(group)["hparams/loss"] == pytest.approx(mean, rel=1e-6)


def test_diverged_sessions_fail_and_stretch_no_axis(board):
    board, logdir = board
    diverged = {row["run"] for row in read_trials(logdir / "sweep") if row["status"] == "diverged"}
    assert diverged == {f"linear/sgd/lr=3.16,seed={seed}" for seed in (42, 43, 44)}
    for group in _session_groups(board):
        for session in group["sessions"]:
            failed = session["name"].startswith("sweep/") and session["name"].removeprefix("sweep/") in diverged
            assert session["status"] == ("STATUS_FAILURE" if failed else "STATUS_SUCCESS"), session["name"]
            # NaN: TensorBoard leaves it out of the plots' axes and colour scale.
            assert (_metrics(session)["hparams/loss"] == "NaN") == failed


def test_the_first_columns_are_the_ones_compared_by_and_no_metric_is_a_models_own(board):
    board, _ = board
    experiment = board.get("/data/plugin/hparams/experiment", {"experimentName": ""})
    shown = [h["name"] for h in sorted(experiment["hparamInfos"], key=lambda h: not h.get("differs", False))][:5]
    assert shown == ["invocation", "learning_rate", "model", "optimizer", "seeds"]
    types = {h["name"]: h["type"] for h in experiment["hparamInfos"]}
    assert types["seeds"] == types["batch_size"] == "DATA_TYPE_STRING"  # "42-44", "100": not 42.000
    assert [m["name"]["tag"] for m in experiment["metricInfos"]] == ["hparams/loss", "hparams/train_loss"]
    invocations = next(h for h in experiment["hparamInfos"] if h["name"] == "invocation")["domainDiscrete"]
    assert "sweep" in invocations


def test_a_mean_run_per_model_and_optimizer_holds_the_mean_of_its_seeds(board):
    board, logdir = board
    run_dir = logdir / "sweep"
    summary, found = read_summary(run_dir), scalars(run_dir)
    for optimizer in ("sgd", "momentum"):
        rate = summary["linear", optimizer]["learning_rate"]
        mean_run = f"linear/{optimizer}/mean,lr={rate:g}"
        seeds = [dict(found[f"linear/{optimizer}/lr={rate:g},seed={seed}", "linear/val_loss"]) for seed in (42, 43, 44)]
        curve = dict(found[mean_run, "linear/val_loss"])
        assert sorted(curve) == list(range(1, 51))
        for epoch, value in curve.items():
            assert value == pytest.approx(statistics.fmean(s[epoch] for s in seeds), rel=1e-6)
        low = dict(found[mean_run, "seeds/linear/val_loss/min"])
        assert all(low[e] == pytest.approx(min(s[e] for s in seeds), rel=1e-6) for e in low)
    runs = board.get("/data/runs")
    assert sum(run.startswith("sweep/") and "/mean,lr=" in run for run in runs) == 2


def test_the_custom_scalars_margin_charts_name_tags_that_exist(board):
    board, _ = board
    layout = board.get("/data/plugin/custom_scalars/layout")
    tags = board.get("/data/plugin/scalars/tags")
    existing = {tag for run_tags in tags.values() for tag in run_tags}
    series = [s for category in layout["category"] for chart in category["chart"]
              for s in chart.get("margin", {}).get("series", [])]
    assert series and {"linear", "cnn"} <= {c["title"] for c in layout["category"]}
    for s in series:
        assert {s["value"], s["lower"], s["upper"]} <= existing, s


def test_the_summary_with_its_verdict_is_in_the_text_dashboard(board):
    board, _ = board
    query = urllib.parse.urlencode({"run": "sweep", "tag": "summary"})
    (entry,) = board.get(f"/data/plugin/text/text?{query}")
    assert "<table>" in entry["text"] and "<td>best</td>" in entry["text"]
    assert "<td>tie (p " in entry["text"]  # SGD and Momentum at 0.1, 3 seeds of 50 steps: not told apart
    assert "Welch" in entry["text"]


def test_no_learning_rate_series_where_it_never_changed(board):
    board, _ = board
    tags = board.get("/data/plugin/scalars/tags")
    assert not any(tag.endswith("/learning_rate") for run_tags in tags.values() for tag in run_tags)


def test_figures_are_under_one_prefix_in_the_invocations_own_run(board):
    board, logdir = board
    images = board.get("/data/plugin/images/tags")
    for folder in run_folders(logdir):
        name = os.path.basename(folder)
        assert images[name] and all(tag.startswith("figures/") for tag in images[name])


def test_the_hill_animation_plays_in_the_images_dashboard(board):
    board, _ = board
    query = urllib.parse.urlencode({"run": "sweep", "tag": "figures/hill_linear.gif", "sample": 0})
    (image,) = board.get(f"/data/plugin/images/images?{query}")
    content_type, gif = board.get(f"/data/plugin/images/individualImage?{image['query']}", raw=True)
    assert content_type == "image/gif"
    with Image.open(io.BytesIO(gif)) as animation:
        assert animation.n_frames >= 30
    assert len(gif) < 5 * 2**20
