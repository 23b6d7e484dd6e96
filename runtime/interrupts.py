"""Ctrl-C and SIGTERM stop a run the same way: cleanly, keeping what finished.

The first signal raises KeyboardInterrupt, unless the program is inside `deferred()`
(recording a finished trial, writing the report), where it is noted and raised when the
block ends, so no record is left half-written. Inside `deferred()`, `allowed()` reopens a
window (the training itself) where it is raised at once. Later signals are ignored with a
note: a second Ctrl-C cannot cut the report of what finished in half.

A signal is never raised inside an import: a native module whose initialisation is cut
leaves the process half-built (jaxlib's nanobind modules crash it as they are freed, and a
module left half-imported breaks the next import of it). It is raised as soon as the
outermost import is over, which the handler checks every `_RETRY_SECONDS` (SIGALRM).

A library may catch the KeyboardInterrupt and carry on: `check()`, called between the
steps of a run, raises it again until `stopping()` says the program has acted on it.
`ignore_from_now_on()`, once the run is over, keeps a late signal from killing the process
while it shuts down (Python gives the signal back to the system's default, which kills,
once the program has returned).

Signals belong to the process, so their state does too: this module holds it. The command
line installs the handlers first thing and keeps them; `compare()` in a notebook installs
them for the length of the call (`handled()`) and gives the kernel's back afterwards.
"""

import signal
import sys
import threading
from contextlib import contextmanager

_FRESH = {"signals": 0, "raised": False, "pending": False, "depth": 0, "acted": False}
_state = dict(_FRESH)
_RETRY_SECONDS = 0.05
# importlib's own frames (frozen into CPython; importlib._bootstrap where they are not)
_IMPORT_MACHINERY = {"_frozen_importlib", "_frozen_importlib_external", "importlib._bootstrap",
                     "importlib._bootstrap_external"}


def _handle(signum, frame):
    _state["signals"] += 1
    if _state["raised"] or _state["pending"]:
        if _state["signals"] == 2:
            doing = "once the import in progress is over" if _importing(frame) else "writing what has finished first"
            print(f"\nStopping: {doing} (further Ctrl-C is ignored)", file=sys.stderr)
        return
    _state["pending"] = True
    _raise_when_safe(frame)


def _raise_when_safe(frame):
    if _state["depth"]:
        return  # deferred: raised when the block ends
    if _importing(frame):
        signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)  # _retry looks again
        return
    _state["pending"], _state["raised"] = False, True
    raise KeyboardInterrupt


def _retry(signum, frame):
    if _state["pending"]:
        _raise_when_safe(frame)


def _importing(frame):
    """Whether the main thread is inside an import: importlib's frames are on its stack."""
    while frame is not None:
        if frame.f_globals.get("__name__") in _IMPORT_MACHINERY:
            return True
        frame = frame.f_back
    return False


def _quiet_if_interrupt(unraisable, report=sys.unraisablehook):
    # A signal that lands in a callback Python cannot raise from (a garbage-collector hook
    # of JAX's, say) would print "Exception ignored" and a traceback; `check()` raises it
    # again where it can be handled.
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):
        report(unraisable)


def install():
    """SIGINT and SIGTERM (a scheduler, `timeout`, a container stop) both interrupt."""
    signal.signal(signal.SIGINT, _handle)
    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGALRM, _retry)
    sys.unraisablehook = _quiet_if_interrupt


def installed():
    return signal.getsignal(signal.SIGINT) is _handle


@contextmanager
def handled():
    """A comparison's stop signals, from a fresh start: the handlers are installed for the
    block unless they already are (the command line's), and what was there before (a
    notebook kernel's) is put back after. Outside the main thread, where no handler can be
    installed, Ctrl-C is whatever the host makes of it."""
    if installed() or threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.update(_FRESH)  # a notebook's earlier comparison may have been stopped
    saved = [(s, signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)]
    saved_hook = sys.unraisablehook
    install()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for number, handler in saved:
            signal.signal(number, handler)
        sys.unraisablehook = saved_hook


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


def check():
    """Raises KeyboardInterrupt if a stop signal arrived and the program has not acted on it."""
    if _state["signals"] and not _state["acted"]:
        _state["pending"], _state["raised"] = False, True
        raise KeyboardInterrupt


def stopping():
    """The program is acting on the stop signal: `check()` no longer raises."""
    _state["acted"] = True


def acted():
    """Whether `stopping()` was called: the stop has been reported."""
    return _state["acted"]


def ignore_from_now_on():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
