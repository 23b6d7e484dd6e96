"""One folder per invocation under the log directory, never reused or replaced silently.

A run folder is this tool's when it holds `run.json`: what was asked (the trials), what it
ran on (backend, library versions, a hash of each model's data), the study that records the
trials, and the command. Every process working in a run folder holds a shared lock on that
file for as long as it runs, so `--overwrite` can tell a folder in use from a finished one,
and never replaces a folder that is not this tool's.

- A new run gets a new folder: `--run-name`, or the date and time (made with `mkdir`, so
  two invocations never share one).
- `--resume` continues the run in an existing folder, if it asked for the same trials on
  the same inputs, or starts it there; processes started together agree on which one
  creates it.
- `--overwrite` runs in a new folder beside the old one and swaps them only once the new
  run has finished: a run that fails leaves the old one as it was.

Names are only ever joined into paths, never used as patterns: a run named `*` or `run[1]`
is that folder and nothing else.
"""

import errno
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from reporting.files import EVENT_FILE_PREFIX, write_atomically
from runtime.errors import ComparisonError, UsageError

MARKER = "run.json"
MARKER_VERSION = 2  # 2: run.json records the inputs a resumed run must share
# How long a process started beside another one waits for it to finish creating the folder.
_CREATION_WAIT_SECONDS = 60
# The deepest name a run writes below its folder: <model>/<optimizer>/lr=...,seed=.../ and
# TensorBoard's event file name (host name and pid included).
_DEEPEST_ENTRY = 128 + 160  # a model (13), an optimizer (at most 64 bytes), a trial (35), /'s; the file
# What --overwrite puts after a run's name, beside it, until the swap.
_STAGING, _REPLACED = ".new-", ".replaced-"
_SIBLING_SUFFIX = len(_REPLACED) + 7 + 1 + 8  # pid (up to 7 digits), "-", 8 hex digits
# The longest database path SQLite 3 opens (measured: 504 bytes opens, 505 fails with
# "unable to open database file"; its limit is 512 with the journal's suffix).
_SQLITE_PATH_MAX = 504


class RunFolderError(UsageError):
    """The run folder cannot be created, resumed or replaced as asked."""


def default_run_name():
    return time.strftime("%m%d-%H%M")


def _exists(target):
    return RunFolderError(f"run folder {target} already exists; choose another --run-name, "
                          "add --resume to continue it, or --overwrite to replace it")


def check_output_path(logdir, run_name, reuse=False, study_in_folder=True):
    """Fails early, writing nothing, if a run folder could not be made there (or, unless
    `reuse`, if the named one exists).

    Checked by trying (a temporary folder is made and removed next to where the log
    directory will be, holding the log folders still to be made and a folder with the
    longest name this run may give one), not by asking: `os.access` says yes to root for
    /proc. `study_in_folder`: the study is a SQLite file in the run folder (no --storage).
    """
    for option, value in (("--logdir", logdir), ("--run-name", run_name or "")):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RunFolderError(f"{option} {value!r}: not valid UTF-8 (the study's database URL and "
                                 "TensorBoard's run names are text); choose another") from None
    if run_name and not reuse and os.path.lexists(os.path.join(logdir, run_name)):
        raise _exists(os.path.join(logdir, run_name))
    if not logdir or not logdir.strip():
        raise RunFolderError("--logdir is empty; give a folder, e.g. --logdir logs")
    existing, missing = os.path.abspath(logdir), []
    while not os.path.lexists(existing):
        existing, name = os.path.split(existing)
        missing.insert(0, name)
    if not os.path.isdir(existing):
        raise RunFolderError(f"--logdir {logdir}: {existing} is not a folder")
    _refuse_inside_a_run(logdir, existing)
    try:
        probe = tempfile.mkdtemp(prefix=".train-probe-", dir=existing)
    except OSError as error:
        raise RunFolderError(f"--logdir {logdir}: cannot create folders in {existing} ({error.strerror})")
    name = run_name or default_run_name() + "-999"  # the longest the run may give itself
    try:
        _try_names(logdir, probe, missing, name)
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    study = os.fsencode(os.path.join(os.path.abspath(logdir), name + "x" * _SIBLING_SUFFIX, "study.db"))
    if study_in_folder and len(study) > _SQLITE_PATH_MAX:
        raise RunFolderError(f"--logdir and --run-name make the study's file path {len(study)} bytes long; SQLite "
                             f"opens at most {_SQLITE_PATH_MAX}: choose shorter ones, or a --storage database")


def _try_names(logdir, probe, missing, name):
    """Makes, in `probe`, the log folders still to be made and the run's folder with its
    longest suffix; a name the file system refuses is a RunFolderError."""
    parent = probe
    for part in missing:
        parent = os.path.join(parent, part)
        try:
            os.mkdir(parent)
        except OSError as error:
            raise RunFolderError(f"--logdir {logdir}: cannot create its folder {part!r} ({error.strerror})") from None
    try:
        # --overwrite makes <name>.replaced-<pid>-<token> beside the run: it must fit too.
        os.mkdir(os.path.join(parent, name + "x" * _SIBLING_SUFFIX))
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            limit = os.pathconf(probe, "PC_NAME_MAX") - _SIBLING_SUFFIX
            raise RunFolderError(f"--run-name is {len(os.fsencode(name))} bytes long; at most {limit} here "
                                 "(--overwrite needs room for a suffix)") from None
        raise RunFolderError(f"--run-name {name!r}: cannot be a folder name here ({error.strerror})") from None
    deepest = len(os.fsencode(os.path.join(os.path.abspath(logdir), name))) + _DEEPEST_ENTRY
    limit = os.pathconf(probe, "PC_PATH_MAX")
    if deepest > limit:
        raise RunFolderError(f"--logdir and --run-name make paths too long for this file system "
                             f"({deepest} > {limit} bytes); choose shorter ones")


def _refuse_inside_a_run(logdir, existing):
    """A log folder inside a run's folder would put runs inside a run, which --overwrite of
    that run would replace as a whole."""
    folder = existing
    while True:
        if os.path.isfile(os.path.join(folder, MARKER)):
            raise RunFolderError(f"--logdir {logdir} is inside the run folder {folder}, which --overwrite "
                                 "replaces as a whole; choose a --logdir outside it")
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent


@dataclass
class RunFolder:
    path: str  # where this process writes (for --overwrite, beside the old folder until the swap)
    name: str  # the run's name under --logdir, once finished
    study: str  # the Optuna study's name
    created: bool  # this process made the folder: it creates the study and enqueues the trials
    command: list
    replacing: str | None = None  # --overwrite: the folder this run replaces once it has finished
    locks: list = field(default_factory=list)

    def ready(self, plan, inputs):
        """Marks the folder as this tool's (once its study is ready, if this process made it:
        others started beside it wait for this file) and holds it as in use."""
        if self.created:
            marker = {"tool": "train.py", "version": MARKER_VERSION, "study": self.study, "command": self.command,
                      "inputs": inputs, "plan": plan}
            write_atomically(os.path.join(self.path, MARKER), lambda f: json.dump(marker, f, indent=1))
        fd = _lock(self.path, exclusive=False)
        if fd is None:
            raise RunFolderError(f"run {self.path} is being replaced by another invocation (--overwrite)")
        self.locks.append(fd)

    @contextmanager
    def report_lock(self):
        """Held while a report is written, so that two workers' reports never interleave:
        whoever writes last, having read the results inside the lock, describes them all."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


# Errors that mean the run folder (or the study's database) cannot take more writes.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


def storage_problem(error):
    """A one-line description if `error` (or an exception behind it) is the file system or
    the study's database refusing writes (a full disk, a quota, a read-only mount, another
    worker holding the database's lock); else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _NO_ROOM:
            return f"{error.filename + ': ' if error.filename else ''}{os.strerror(error.errno)}"
        text = str(error)
        for words in ("database or disk is full", "disk I/O error", "readonly database"):
            if words in text:
                return f"the study's database: {words}"
        if "database is locked" in text:
            return ("the study's database: locked by another worker for over a minute; a worker "
                    "stopped with Ctrl-Z while writing holds it until it goes on")
        error = error.__cause__ or error.__context__
    return None


@contextmanager
def quiet_storage_problems_in_threads():
    """Optuna's heartbeat thread meets a full disk or a locked database too; the main thread
    reports it in one line when it next writes, so the thread's traceback is dropped."""
    import threading

    report = threading.excepthook

    def hook(failure):
        if storage_problem(failure.exc_value) is None:
            report(failure)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = report


_MARKER_KEYS = {"study": str, "command": list, "plan": list, "inputs": dict}


def _read_marker(path, wait=False, whole=True):
    """run.json of the folder at `path`, or None if it has none. One that is not this tool's,
    or (with `whole`) is damaged, is a RunFolderError saying which.

    With `wait`, a folder made in the last minute without one yet is given that minute:
    another process started beside this one may be creating it (or failing to, and
    removing it again).
    """
    marker_path = os.path.join(path, MARKER)
    while True:
        try:
            with open(marker_path, "rb") as f:
                marker = json.loads(f.read())
            break
        except FileNotFoundError:
            try:
                young = time.time() - os.path.getmtime(path) < _CREATION_WAIT_SECONDS
            except FileNotFoundError:
                if not wait:
                    return None
                # The process creating the run failed before the run was ready and removed
                # the folder (see open_run_folder); it has said why.
                raise RunFolderError(f"the process that was creating run {path} stopped before the run was "
                                     "ready and removed its folder; see its error, then start again") from None
            if not (wait and young):
                return None
            time.sleep(0.2)
        except OSError as error:
            raise RunFolderError(f"{marker_path} cannot be read ({error.strerror}); not using that folder") from None
        except ValueError:
            raise RunFolderError(f"{marker_path} is not JSON, so not known to be this tool's: not using that "
                                 "folder (if it is a run of train.py, remove it by hand)") from None
    if not (isinstance(marker, dict) and marker.get("tool") == "train.py"):
        raise RunFolderError(f"{marker_path} was not written by train.py; not using that folder")
    if not whole:
        return marker
    for key, kind in _MARKER_KEYS.items():
        if not isinstance(marker.get(key), kind):
            if key == "inputs":
                raise _damaged(marker_path, "has no record of its inputs (made by an older version)")
            raise _damaged(marker_path, f"is damaged (its {key!r} is missing or not a {kind.__name__})")
    if not all(isinstance(t, dict) and isinstance(t.get("model"), str) and isinstance(t.get("optimizer"), str)
               for t in marker["plan"]):
        raise _damaged(marker_path, "is damaged (a trial in its 'plan' has no model or optimizer)")
    return marker


def _damaged(marker_path, what):
    return RunFolderError(f"{marker_path} {what}; it cannot be resumed. Start a new run (another --run-name), "
                          "or --overwrite this one")


def this_tools_runs(logdir):
    """The names of the run folders in `logdir` that this tool made (they hold run.json)."""
    try:
        names = os.listdir(logdir)
    except OSError:
        return []
    return [name for name in names if os.path.isfile(os.path.join(logdir, name, MARKER))]


def _lock(path, exclusive):
    """A lock on the folder's run.json, held until closed; None if another process has it."""
    fd = os.open(os.path.join(path, MARKER), os.O_RDONLY)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _first_difference(ours, theirs):
    if len(ours) != len(theirs):
        return f"{len(theirs)} trials there, {len(ours)} asked for now"
    for a, b in zip(ours, theirs):
        key = next((k for k in a if a.get(k) != b.get(k)), None)
        if key:
            return f"{b['model']}/{b['optimizer']} has {key}={b.get(key)!r} there, {a.get(key)!r} now"
    return None


def _input_difference(ours, theirs, prefix=""):
    # A key the run does not have was not recorded by the version that started it.
    for key in sorted(set(ours) & set(theirs) if prefix == "" else set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = _input_difference(a, b, f"{prefix}{key} ")
            if found:
                return found
        elif a != b:
            return f"{prefix}{key} was {b!r} there, is {a!r} now"
    return None


def _new_study_name(name):
    # Unique, so a study in a shared database (--storage) never mixes two runs of one name.
    return f"{name}-{secrets.token_hex(4)}"


def _sibling(target, kind):
    # Unique per attempt: a folder a killed process left (a container's pid 1 comes back)
    # never blocks the next --overwrite.
    return f"{target}{kind}{os.getpid()}-{secrets.token_hex(4)}"


@contextmanager
def open_run_folder(logdir, run_name, plan, inputs, command, *, resume=False, overwrite=False):
    """Creates, resumes or replaces the run folder; yields a RunFolder. See the module doc.

    `plan` is the list of trial dicts this invocation asks for, `inputs` what the results
    depend on besides (backend, versions, data hashes); a resumed folder must have been
    started with the same. Raises RunFolderError, before writing anything, if the folder
    cannot be used as asked. A folder this process made and that never became ready (its
    study made, its run.json written) is removed if the block fails.
    """
    plan, inputs = json.loads(json.dumps(plan)), json.loads(json.dumps(inputs))  # as run.json holds them
    target = os.path.join(logdir, run_name) if run_name else None
    if target and overwrite and os.path.lexists(target):
        yield from _replace(target, run_name, command)
        return
    made = _make_logdir(logdir)
    run = None
    try:
        run = _resumed(target, run_name, plan, inputs, command) if target and resume else \
            _new(logdir, run_name, target, command)
        yield run
    except BaseException:
        if run is not None and run.created and not run.locks:
            shutil.rmtree(run.path, ignore_errors=True)
            # And the log folders this run made, if nothing else is in them now.
            for folder in made:
                try:
                    os.rmdir(folder)
                except OSError:
                    break
        raise
    finally:
        for fd in run.locks if run else ():
            os.close(fd)


def _resumed(target, run_name, plan, inputs, command):
    """--resume: the run folder `target`, made here if it is not there yet."""
    if os.path.lexists(target) and not os.path.isdir(target):
        what = f"a symbolic link to {os.readlink(target)}, which is not a folder" if os.path.islink(target) \
            else "not a folder"
        raise RunFolderError(f"--resume: {target} is {what}; nothing to resume there")
    try:
        _mkdir(target, os.path.dirname(target))
        return RunFolder(target, run_name, _new_study_name(run_name), True, command)
    except FileExistsError:
        pass
    marker = _read_marker(target, wait=True)
    if marker is None:
        raise RunFolderError(f"--resume: {target} was not made by train.py (it has no {MARKER})")
    difference = _first_difference(plan, marker["plan"]) or _input_difference(inputs, marker["inputs"])
    if difference:
        raise RunFolderError(f"--resume: run {target} was started with other options or inputs "
                             f"({difference}); give the same, or another --run-name")
    return RunFolder(target, run_name, marker["study"], False, marker["command"])


def _new(logdir, run_name, target, command):
    """A new run folder: `target`, or the first free one named by the date and time."""
    if target:
        try:
            _mkdir(target, logdir)
        except FileExistsError:
            raise _exists(target) from None
        return RunFolder(target, run_name, _new_study_name(run_name), True, command)
    base = default_run_name()
    for suffix in range(1000):
        name = base if suffix == 0 else f"{base}-{suffix}"
        try:
            _mkdir(os.path.join(logdir, name), logdir)  # atomic: two runs cannot share a folder
            return RunFolder(os.path.join(logdir, name), name, _new_study_name(name), True, command)
        except FileExistsError:
            continue
    raise RunFolderError(f"could not find a free run folder name under {logdir}")


def _make_logdir(logdir):
    """Makes `logdir` if needed; returns the folders made, deepest first."""
    made, folder = [], os.path.abspath(logdir)
    while not os.path.lexists(folder):
        made.append(folder)
        folder = os.path.dirname(folder)
    try:
        os.makedirs(logdir, exist_ok=True)
    except OSError as error:
        raise ComparisonError(f"--logdir {logdir}: cannot be created ({error.strerror})") from error
    return made


def _mkdir(path, logdir):
    try:
        os.mkdir(path)
    except FileNotFoundError:  # another invocation, failing, removed the empty log folder it had made
        _make_logdir(logdir)
        os.mkdir(path)


def _check_replaceable(target):
    """--overwrite replaces a folder of this tool's holding only what this tool writes."""
    if os.path.islink(target) or not os.path.isdir(target):
        raise RunFolderError(f"--overwrite: {target} is {'a symbolic link' if os.path.islink(target) else 'not a folder'}"
                             "; --overwrite replaces only a run folder train.py made: not replacing it")
    marker = _read_marker(target, whole=False)
    if marker is None:
        raise RunFolderError(f"--overwrite: {target} was not made by train.py (it has no {MARKER}); "
                             "not replacing it")
    foreign = _not_ours(target)
    if foreign:
        raise RunFolderError(f"--overwrite: {os.path.join(target, foreign)} is not one of the files a run of "
                             "train.py writes, and --overwrite replaces the run's whole folder: move it out first "
                             "(or remove the folder by hand); nothing replaced")


# What a run writes at the top of its folder (besides event files, hill_<model>.png/.gif
# and write_atomically's temporary files), and how deep its trials' folders go:
# <model>/<optimizer>/<lr=...,seed=...|mean,lr=...>/events.out.tfevents.*.
_OURS_AT_TOP = {MARKER, "study.db", "study.db-journal", "study.db-wal", "study.db-shm", "trials.csv", "summary.csv",
                "summary.json", "profile.csv", "paths.npz", "loss_curves.png", "lr_sensitivity.png",
                "performance_profile.png"}
_TRIAL_DEPTH = 3


def _not_ours(target):
    """The first entry in the run folder `target` (relative to it) that this tool did not
    write (a user's file, a run inside this one, a link), or None."""
    for folder, dirs, files in os.walk(target):
        relative = os.path.relpath(folder, target)
        depth = 0 if relative == "." else relative.count(os.sep) + 1
        for name in sorted(dirs + files):
            is_dir = name in dirs
            if os.path.islink(os.path.join(folder, name)) or not _ours(name, depth, is_dir):
                return os.path.normpath(os.path.join(relative, name))
    return None


def _ours(name, depth, is_dir):
    """Whether a run writes an entry of this name, at this depth below its folder."""
    if is_dir:  # <model>/<optimizer>/<trial>
        return depth < _TRIAL_DEPTH - 1 or (depth == _TRIAL_DEPTH - 1 and name.startswith(("lr=", "mean,lr=")))
    if name.startswith(EVENT_FILE_PREFIX) or (name.startswith(".") and name.endswith(".tmp")):
        return depth in (0, _TRIAL_DEPTH)
    return depth == 0 and (name in _OURS_AT_TOP or (name.startswith("hill_") and name.endswith((".png", ".gif"))))


def _replace(target, run_name, command):
    """--overwrite of an existing folder: run beside it, swap when the new run has finished.

    If the new run fails, its folder is removed and the old one is unchanged; if it is
    stopped (Ctrl-C), its folder stays beside the old one, which is unchanged."""
    _check_replaceable(target)
    held = _lock(target, exclusive=True)
    if held is None:
        raise RunFolderError(f"--overwrite: run {target} is in use by another invocation; wait for it to finish")
    staging = _sibling(target, _STAGING)
    try:
        os.mkdir(staging)
        run = RunFolder(staging, run_name, _new_study_name(run_name), True, command, replacing=target)
        try:
            yield run
        except KeyboardInterrupt:
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            for fd in run.locks:
                os.close(fd)
            run.locks.clear()
        replaced = _sibling(target, _REPLACED)
        os.rename(target, replaced)
        os.rename(staging, target)
        run.path = target
        shutil.rmtree(replaced, ignore_errors=True)
    finally:
        os.close(held)
