"""Standard output that survives its reader going away, or never being there.

`python train.py | head -3`: once `head` has its lines the pipe closes, and the next write
would raise BrokenPipeError with a traceback; `python train.py > /dev/full` fails every
write with "No space left on device"; `python train.py >&-` starts with no standard output
at all (Python's `sys.stdout` is None, and Keras's progress bar would fail on it). In each
case the rest of the output goes to /dev/null and the run finishes: its results are in the
run folder either way. Standard error gets the same treatment, so the one-line error of a
failed run never turns into a traceback about printing it.
"""

import errno
import os
import sys

# Write errors that mean "nobody can read this output", not "the run failed".
_GONE = (errno.EPIPE, errno.ENOSPC, errno.EBADF, errno.EIO)


class _StreamThatSurvives:
    def __init__(self, stream):
        self._stream = stream

    def _discard_from_now_on(self):
        # Point the file descriptor itself at /dev/null, so Python's own flush at exit of
        # whatever is still buffered goes nowhere instead of failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        except (OSError, ValueError):
            self._stream = open(os.devnull, "w")
        finally:
            os.close(devnull)

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError as error:
            if error.errno not in _GONE:
                raise
            self._discard_from_now_on()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except OSError as error:
            if error.errno not in _GONE:
                raise
            self._discard_from_now_on()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def survive_lost_output():
    """Makes sys.stdout and sys.stderr survive a reader that went away, a full device or a
    closed descriptor (see the module's docstring)."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = getattr(sys, name)
        if stream is None:
            # Started with the descriptor closed: /dev/null takes its number, so no file the
            # run opens later gets it (and with it whatever a library writes there).
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
            stream = os.fdopen(fd, "w")
        if not isinstance(stream, _StreamThatSurvives):
            setattr(sys, name, _StreamThatSurvives(stream))
