"""Ctrl-C and SIGTERM stop a run the same way: cleanly, keeping what finished.

The first signal raises KeyboardInterrupt, unless the program is inside `deferred()`
(recording a finished trial, writing the report), where it is noted and raised when the
block ends, so no record is left half-written. Inside `deferred()`, `allowed()` reopens a
window (the training itself) where it is raised at once. Later signals are ignored with a
note: a second Ctrl-C cannot cut the report of what finished in half.
"""

import signal
import sys
from contextlib import contextmanager

_state = {"signals": 0, "raised": False, "pending": False, "depth": 0}


def _handle(signum, frame):
    _state["signals"] += 1
    if _state["raised"] or _state["pending"]:
        if _state["signals"] == 2:
            print("\nStopping: writing what has finished first (further Ctrl-C is ignored)", file=sys.stderr)
        return
    if _state["depth"]:
        _state["pending"] = True
        return
    _state["raised"] = True
    raise KeyboardInterrupt


def install():
    """SIGINT and SIGTERM (a scheduler, `timeout`, a container stop) both interrupt."""
    signal.signal(signal.SIGINT, _handle)
    signal.signal(signal.SIGTERM, _handle)


@contextmanager
def deferred():
    """A block a signal must not cut: it is raised when the block ends."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
    if _state["depth"] == 0 and _state["pending"]:
        _state["pending"], _state["raised"] = False, True
        raise KeyboardInterrupt


@contextmanager
def allowed():
    """Inside a deferred block, a window where a signal interrupts at once."""
    depth, _state["depth"] = _state["depth"], 0
    try:
        if _state["pending"]:
            _state["pending"], _state["raised"] = False, True
            raise KeyboardInterrupt
        yield
    finally:
        _state["depth"] = depth
