"""Standard output that survives its reader going away.

`python train.py | head -3`: once `head` has its lines the pipe closes, and the next write
would raise BrokenPipeError with a traceback. Instead the rest of the output goes to
/dev/null and the run finishes: its results are in the run folder either way.
"""

import os
import sys


class _StdoutThatSurvivesAClosedPipe:
    def __init__(self, stream):
        self._stream = stream

    def _discard_from_now_on(self):
        # Point the file descriptor itself at /dev/null, so Python's own flush at exit of
        # whatever is still buffered goes nowhere instead of failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._discard_from_now_on()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard_from_now_on()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def survive_closed_stdout():
    if not isinstance(sys.stdout, _StdoutThatSurvivesAClosedPipe):
        sys.stdout = _StdoutThatSurvivesAClosedPipe(sys.stdout)
