"""Many machines, one sweep: workers given one --storage postgresql://... URL split the
trials through a real PostgreSQL server (the `postgres` fixture), as MANY_MACHINES.md tells a
user to run them. Each trial runs exactly once, and the result is bit for bit a one-process
run's; a worker killed in the middle of a trial leaves it to another, which runs it once
GRACE_SECONDS have passed without the dead one's heartbeat."""

import glob
import json
import os
import re
import shutil
import signal
import threading
import time

import pytest

from runtime import run_folder
from runtime.run_folder import RunFolderError
from runs import read_trials, start_train, train

# 12 trials of 50 steps: a few seconds of training in all, so most of the time is the
# workers' start-up.
SWEEP = ["--model", "linear", "--opt", "sgd", "momentum", "rmsprop", "--lr", "0.01", "0.1", "--seeds", "2",
         "--quick"]
# 4 trials of a few seconds each: long enough to kill a worker in the middle of one.
LONG_SWEEP = ["--model", "linear", "--opt", "sgd", "momentum", "--lr", "0.1", "--seeds", "2", "--epochs", "3000"]
GRACE_SECONDS = 20  # comparison.study.GRACE_SECONDS (read here without importing Optuna's setup)
HEARTBEAT_SECONDS = 5  # comparison.study.HEARTBEAT_SECONDS


def _worker(args, logdir, log_prefix):
    """train.py in the background, its output in `log_prefix`.out and .err."""
    out, err = open(f"{log_prefix}.out", "w"), open(f"{log_prefix}.err", "w")
    process = start_train(*args, logdir=logdir, stdout=out, stderr=err)
    out.close(), err.close()
    return process


def _read(path):
    with open(path) as f:
        return f.read()


def _finished(stdout):
    """The trials a worker's progress lines say it finished, as `describe` words them."""
    return re.findall(r"^\[\d+/\d+\] (\S+ / \S+, lr \S+, seed \d+):", stdout, re.MULTILINE)


def _study(url, run_dir):
    import optuna

    with open(os.path.join(run_dir, "run.json")) as f:
        return optuna.load_study(study_name=json.load(f)["study"], storage=url)


def _records(study, state):
    from optuna.trial import TrialState

    return sorted(r.user_attrs["trial"] for r in study.get_trials(deepcopy=False, states=(getattr(TrialState, state),))
                  if "trial" in r.user_attrs)


def _without_seconds(run_dir):
    # Every column but the wall-clock time, as written (strings: bit for bit).
    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_trials(run_dir)]


def _event_pids(run_dir, trial_name):
    # TensorBoard names an event file events.out.tfevents.<time>.<host>.<pid>.<n>.
    return [int(os.path.basename(f).split(".")[-2])
            for f in glob.glob(os.path.join(run_dir, trial_name, "events.out.tfevents.*"))]


def _wait_for(condition, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return None


def test_three_workers_split_a_sweep_through_postgresql_and_equal_one_process(postgres, tmp_path):
    url = postgres.new_database("split")
    workers = [_worker([*SWEEP, "--run-name", "shared", "--resume", "--storage", url], tmp_path / "logs",
                       tmp_path / f"worker{k}") for k in range(3)]
    # The one-process run to compare with (the default storage: a SQLite file in its folder),
    # meanwhile.
    alone = train(*SWEEP, "--run-name", "alone", logdir=tmp_path / "alone")
    for process in workers:
        process.wait(timeout=600)
    outputs = [(_read(tmp_path / f"worker{k}.out"), _read(tmp_path / f"worker{k}.err")) for k in range(3)]
    for process, (stdout, stderr) in zip(workers, outputs):
        assert process.returncode == 0, stdout + stderr
        assert "Traceback" not in stderr, stderr
    assert alone.returncode == 0, alone.stderr

    run_dir = tmp_path / "logs" / "shared"
    rows = read_trials(run_dir)
    names = sorted(row["run"] for row in rows)
    assert len(names) == 12 and all(row["status"] == "ok" for row in rows)
    # Each trial ran exactly once: once in the workers' progress lines, once in the study.
    ran = [line for stdout, _ in outputs for line in _finished(stdout)]
    assert len(ran) == 12 and len(set(ran)) == 12, ran
    study = _study(url, run_dir)
    assert _records(study, "COMPLETE") == names
    assert _records(study, "FAIL") == _records(study, "RUNNING") == _records(study, "WAITING") == []
    for name in names:
        assert len(_event_pids(run_dir, name)) == 1, name
    # The same numbers as one process, bit for bit.
    assert _without_seconds(run_dir) == _without_seconds(tmp_path / "alone" / "alone")


def test_a_worker_killed_mid_trial_leaves_its_trial_to_another_after_the_grace_period(postgres, tmp_path):
    url = postgres.new_database("killed")
    logdir, run_dir = tmp_path / "logs", tmp_path / "logs" / "run"
    args = [*LONG_SWEEP, "--run-name", "run", "--resume", "--storage", url]
    victim = _worker(args, logdir, tmp_path / "victim")
    survivor = _worker(args, logdir, tmp_path / "survivor")
    try:
        # The victim is in the middle of a trial once the trial's event file (named with its
        # pid) exists and the study holds a heartbeat of that running trial.
        def victims_trial():
            for folder in glob.glob(os.path.join(run_dir, "linear", "*", "*")):
                name = os.path.relpath(folder, run_dir)
                if victim.pid in _event_pids(run_dir, name) and postgres.query(
                        "SELECT 1 FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id"
                        " JOIN trial_user_attributes a ON a.trial_id = t.trial_id"
                        " WHERE t.state = 'RUNNING' AND a.key = 'trial' AND a.value_json = %s",
                        (json.dumps(name),), database="killed"):
                    return name
            assert victim.poll() is None, _read(tmp_path / "victim.err")
            return None

        killed = _wait_for(victims_trial, timeout=300, interval=0.05)
        assert killed, "the victim never started a trial"
        time.sleep(0.5)  # well into the trial (each takes seconds)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait(timeout=60)
        survivor.wait(timeout=600)
        survivor_done = time.monotonic()
    finally:
        for process in (victim, survivor):
            if process.poll() is None:
                process.kill()
    assert victim.returncode == -signal.SIGKILL
    stdout, stderr = _read(tmp_path / "survivor.out"), _read(tmp_path / "survivor.err")
    assert survivor.returncode == 0, stdout + stderr
    assert "Traceback" not in stderr, stderr

    # The run is complete: every trial, each ok.
    rows = read_trials(run_dir)
    names = sorted(row["run"] for row in rows)
    assert len(names) == 4 and all(row["status"] == "ok" and row["epochs"] == "3000" for row in rows), rows
    # The killed trial was failed as stale, put back, and run again by the survivor: not
    # before the victim's last heartbeat was GRACE_SECONDS old.
    study = _study(url, run_dir)
    assert _records(study, "FAIL") == [killed]
    assert _records(study, "COMPLETE") == names
    model, optimizer, rest = killed.split("/")
    lr, seed = re.fullmatch(r"lr=(\S+),seed=(\d+)", rest).groups()
    assert f"{model} / {optimizer}, lr {lr}, seed {seed}" in _finished(stdout)
    assert survivor_done - killed_at > GRACE_SECONDS - HEARTBEAT_SECONDS
    # Its TensorBoard run is the survivor's alone: the victim's partial one was replaced.
    assert _event_pids(run_dir, killed) == [survivor.pid]


def test_workers_waiting_for_a_run_whose_creator_failed_say_so_in_one_line(tmp_path):
    # The process creating a run fails before the run is ready and removes the folder, while
    # one started beside it waits for the folder's run.json: that one stops with a one-line
    # error (RunFolderError: train.py prints it, exit 2), not a FileNotFoundError traceback.
    folder = tmp_path / "run"
    folder.mkdir()
    remover = threading.Timer(0.5, shutil.rmtree, args=(folder,))
    remover.start()
    try:
        with pytest.raises(RunFolderError, match="stopped before the run was ready"):
            run_folder._read_marker(str(folder), wait=True)
    finally:
        remover.join()
    assert run_folder._read_marker(str(folder)) is None  # not waiting: just not a run
