"""The one error type of a comparison, carrying the exit status the command line gives it.

`compare()` raises a ComparisonError (or a subclass) for everything a user should read as
one line; `train.py` catches it once, prints `train.py: error: <message>` and exits with
its status. Anything else is a bug, and keeps its traceback.
"""


class ComparisonError(Exception):
    """The comparison cannot go on; the message is one line. Exit status 1."""

    status = 1


class UsageError(ComparisonError, ValueError):
    """An argument the comparison cannot run with, found before anything is written. Exit
    status 2. A ValueError too, as a bad argument to a Python function is."""

    status = 2
