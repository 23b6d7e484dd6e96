"""One folder per invocation under the log directory, never reused silently."""

import os
import shutil
import time


class RunFolderError(RuntimeError):
    """The run folder cannot be created as asked."""


def default_run_name():
    return time.strftime("%Y-%m-%d_%H-%M-%S")


def check_logdir_writable(logdir):
    """Fails early, writing nothing, if `logdir` cannot be created or written to."""
    existing = os.path.abspath(logdir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise RunFolderError(f"--logdir {logdir}: cannot create or write to it ({existing} is not a writable directory)")


def create_run_folder(logdir, run_name=None, overwrite=False):
    """Creates and returns `logdir/run_name`.

    An explicit `run_name` that exists is refused unless `overwrite`; without a name, a
    timestamp is used, with a numeric suffix if two runs start in the same second.
    """
    check_logdir_writable(logdir)
    os.makedirs(logdir, exist_ok=True)
    if run_name is not None:
        path = os.path.join(logdir, run_name)
        if os.path.exists(path):
            if not overwrite:
                raise RunFolderError(
                    f"run folder {path} already exists; choose another --run-name or pass --overwrite to replace it"
                )
            shutil.rmtree(path)
        os.mkdir(path)
        return path
    base = default_run_name()
    for suffix in range(1000):
        path = os.path.join(logdir, base if suffix == 0 else f"{base}-{suffix}")
        try:
            os.mkdir(path)  # atomic: two runs starting together cannot share a folder
            return path
        except FileExistsError:
            continue
    raise RunFolderError(f"could not find a free run folder name under {logdir}")
