"""Handing out trials, and recording their results, through an Optuna study.

The study is the sweep's scheduler and its results database: the process that creates a
run enqueues every trial; each worker (this process, and any other started with the same
`--run-name NAME --resume`) takes the next waiting trial with `study.ask()`, which hands
each enqueued trial to exactly one worker, runs it, and records its result in the trial's
user attributes. A worker that dies stops sending heartbeats; after GRACE_SECONDS its
trial is failed and put back in the queue, and a worker still running (or a later
`--resume`) runs it from the start. Ctrl-C puts the interrupted trial back in the queue at
once. The default storage is a SQLite file in the run folder; any database URL Optuna
accepts (e.g. PostgreSQL) lets workers on many machines share one sweep.

Optuna hands out a waiting trial by reading its state and then writing RUNNING, relying on
SELECT ... FOR UPDATE to make the two one step. SQLite ignores FOR UPDATE, so two workers
could both take one trial (optuna/optuna#4621); the second then fails with "Cannot tell a
COMPLETE trial". On SQLite every transaction here therefore starts with BEGIN IMMEDIATE,
which takes the database's write lock before the read.
"""

import math
import os
import sys
import time
import warnings

import optuna
import sqlalchemy
from optuna.trial import TrialState

from comparison.results import TrialResult
from runtime import interrupts
from runtime.errors import ComparisonError, UsageError

HEARTBEAT_SECONDS = 5
GRACE_SECONDS = 20  # no heartbeat for this long: the worker is presumed dead
_POLL_SECONDS = 1.0
_SQLITE_BUSY_SECONDS = 60  # how long a worker waits for another's write lock

# Optuna's per-trial log lines (and a traceback for a trial stopped by Ctrl-C) would
# interleave with the comparison's own progress lines; the heartbeat API is experimental.
optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def default_storage(run_path):
    # Made by SQLAlchemy, which escapes the path: a folder named "?" or "#" would otherwise
    # end the URL's path there.
    path = os.path.abspath(os.path.join(run_path, "study.db"))
    return sqlalchemy.engine.URL.create("sqlite", database=path).render_as_string(hide_password=False)


def open_storage(storage_url):
    """Optuna's RDBStorage for the URL, with heartbeats; on SQLite, one writer at a time."""
    sqlite = sqlalchemy.engine.make_url(storage_url).get_backend_name() == "sqlite"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            storage_url,
            engine_kwargs={"connect_args": {"timeout": _SQLITE_BUSY_SECONDS}} if sqlite else None,
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(),
        )
    if sqlite:
        _begin_immediate(storage.engine)
    return storage


def _begin_immediate(engine):
    """Makes each transaction on a SQLite engine take the write lock when it begins.

    SQLAlchemy's recipe for SQLite transactions: the driver's own BEGIN is turned off
    and SQLAlchemy emits the one it should. Connections Optuna opened before the listeners
    existed are closed, so every connection from now on gets them.
    """
    @sqlalchemy.event.listens_for(engine, "connect")
    def _driver_begins_nothing(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()


def open_study(storage_url, study_name, trials, create, given=True):
    """The run's study; if `create`, made here with every trial enqueued in order.

    A resumed run's study exists: its run.json is written once the study is ready. If it is
    not there, or its database cannot be read, that is one line (a ComparisonError), not a
    wait or a traceback. `given`: the URL came from --storage (not the run folder's file).
    """
    where = f"--storage {storage_url}" if given else "the run folder's study.db"
    if not create and not given:
        path = sqlalchemy.engine.make_url(storage_url).database
        if not os.path.isfile(path):
            raise ComparisonError(f"{path} is missing: the run's study (which trials finished, and their "
                                  "results) is gone, so it cannot be resumed; start a new run")
    try:
        storage = open_storage(storage_url)
        if create:
            study = optuna.create_study(storage=storage, study_name=study_name, direction="minimize")
            for trial in trials:
                study.enqueue_trial({}, user_attrs={"trial": trial.name})
            return study
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise UsageError(f"study {study_name!r} is not in {where}; resume with the --storage the run was "
                         "started with") from None
    except sqlalchemy.exc.SQLAlchemyError as error:
        if "locked" in str(error) or "disk is full" in str(error):
            raise
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise ComparisonError(f"the study's database ({where}) cannot be read: {reason}") from error


def finished_results(study, trials):
    """{trial name: TrialResult} of every trial of `trials` the study holds a result for."""
    wanted = {trial.name: trial for trial in trials}
    results = {}
    for record in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        name = record.user_attrs.get("trial")
        if name in wanted and "result" in record.user_attrs:
            results[name] = TrialResult.from_dict(wanted[name], record.user_attrs["result"])
    return results


def last_completed(study):
    """The name of the trial that finished last (the one whose worker writes the report)."""
    done = [r for r in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if "trial" in r.user_attrs]
    return max(done, key=lambda r: r.datetime_complete).user_attrs["trial"] if done else None


def run_worker(study, trials, run_trial, progress=None):
    """Takes trials from the study and runs them until none is waiting or running.

    `run_trial(trial)` returns a TrialResult; an "interrupted" one puts the trial back in the
    queue and raises KeyboardInterrupt after recording nothing. `progress(result, study)` is
    called after each trial this worker finishes. Returns the names of the trials this
    worker ran, in order.
    """
    return _Worker(study, trials, run_trial, progress).run()


class _Worker:
    def __init__(self, study, trials, run_trial, progress):
        self.study, self.run_trial, self.progress = study, run_trial, progress
        self.by_name = {trial.name: trial for trial in trials}
        self.ran = []
        self.current = None  # the Optuna trial this worker took last
        # Trials seen waiting, less those taken since: the queue is read again only when it
        # may be empty (reading it costs as much as a short trial). Another worker may empty
        # it first; then ask() makes a fresh trial, pruned at once: at most one per worker.
        self.waiting = 0

    def run(self):
        while True:
            interrupts.check()
            if self.waiting <= 0 and not self._wait_for_work():
                return self.ran
            self.waiting -= 1
            # Recording a trial is not cut by Ctrl-C: it stops the run once the record is whole.
            with interrupts.deferred():
                self.current = None
                try:
                    self.study.optimize(self.objective, n_trials=1, catch=())
                except ValueError:  # Optuna's tell: "Cannot tell a FAIL trial"
                    # This worker sent no heartbeat for GRACE_SECONDS (stopped with Ctrl-Z, a
                    # machine asleep), so another worker failed its trial and ran it again.
                    if self.current is None or not _taken_over(self.study, self.current):
                        raise
                    print(f"{self.current.user_attrs['trial']}: this worker sent no heartbeat for over "
                          f"{GRACE_SECONDS} s, so another worker ran the trial again; its result stands and this "
                          "one is dropped", file=sys.stderr, flush=True)

    def _wait_for_work(self):
        """True once a trial waits (a dead worker's, put back when its heartbeat is stale);
        False once none waits and no other worker runs one."""
        while True:
            optuna.storages.fail_stale_trials(self.study)
            self.waiting = len(self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
            if self.waiting:
                return True
            if not self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                return False
            time.sleep(_POLL_SECONDS)
            interrupts.check()

    def objective(self, record):
        self.current = record
        name = record.user_attrs.get("trial")
        if name not in self.by_name:
            # No trial was waiting, so Optuna's ask() made a fresh one: nothing of ours to run.
            self.waiting = 0
            raise optuna.TrialPruned("no trial left to run")
        try:
            with interrupts.allowed():
                result = self.run_trial(self.by_name[name])
        except BaseException:
            self._put_back(record)
            raise
        if result.status == "interrupted":
            self._put_back(record)
            raise TrialInterrupted(result)
        if _taken_over(self.study, record):
            raise optuna.TrialPruned("taken over by another worker")  # Optuna's tell will refuse
        record.set_user_attr("result", result.to_dict())
        self.ran.append(name)
        if self.progress:
            self.progress(result, self.study)
        # Optuna refuses NaN; a diverged trial is infinitely bad.
        return result.score if math.isfinite(result.score) else math.inf

    def _put_back(self, record):
        if not _taken_over(self.study, record):  # else its copy is already in the queue
            self.study.enqueue_trial({}, user_attrs={"trial": record.user_attrs["trial"]})


def _taken_over(study, record):
    """Whether another worker failed this trial as stale (and, RetryHeartbeatStaleTrialCallback,
    put a copy back in the queue): its state in the database is FAIL. One row is read:
    Optuna has no public way to read one trial, and reading them all, every trial, made a
    1,000-trial sweep's bookkeeping grow with the square of its size."""
    return study._storage.get_trial(record._trial_id).state == TrialState.FAIL


class TrialInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a trial; carries what the trial had done."""

    def __init__(self, result):
        super().__init__()
        self.result = result

