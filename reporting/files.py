"""Every file a run writes goes through here: whole or not at all, and an error writing it
(a full disk, a quota, a read-only mount) is raised where it happened, never lost.

- `write_atomically` writes a file under a temporary name and renames it into place: a
  reader sees the old file or the new one, never half of one, and an error leaves no part
  of the new one.
- `EventFile` writes a TensorBoard event file with TensorBoard's own record format, in the
  caller's thread. TensorBoard's `EventFileWriter` writes from a background thread and its
  `close()` drops that thread's error: a full disk left a truncated event file and exit 0.
  Here a failed write raises OSError from the call that made it. With `atomic=True` the
  file only appears, whole, when it is closed (the figures' file, which a report replaces).

No TensorFlow op runs per value: logging a scalar costs microseconds, and the logs are the
same whichever Keras backend trains. TensorBoard's modules load with the first EventFile,
so that the run folder's checks, which write through here too, stay instant.
"""

import itertools
import os
import socket
import time

EVENT_FILE_PREFIX = "events.out.tfevents."
_FLUSH_SECONDS = 2.0  # TensorBoard shows a running trial's curve at most this late
_numbers = itertools.count()


def _temporary_name(path):
    # Beside the target (a rename across file systems is not atomic); the name holds no
    # "tfevents", so TensorBoard never reads a file that is being written.
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name.replace('tfevents', 'events')}.{os.getpid()}-{next(_numbers)}.tmp")


def write_atomically(path, write, mode="w", **open_args):
    """Writes `path` with `write(file)`: a reader never sees half of it, and an error (a full
    disk, Ctrl-C) leaves the old file, if any, and no part of the new one. Returns `path`."""
    temporary = _temporary_name(path)
    try:
        with open(temporary, mode, **open_args) as f:
            write(f)
        os.replace(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.remove(temporary)
        raise
    return path


def event_files(folder):
    """The TensorBoard event files directly in `folder`, by exact name (never a pattern:
    a folder name may hold `*`, `?` or `[`)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(folder, n) for n in names if n.startswith(EVENT_FILE_PREFIX))


class EventFile:
    """One TensorBoard event file in `folder`, named as TensorBoard's writer names them."""

    def __init__(self, folder, atomic=False):
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        self._event = event_pb2.Event
        os.makedirs(folder, exist_ok=True)
        name = f"{EVENT_FILE_PREFIX}{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_numbers)}"
        self.path = os.path.join(folder, name)
        self._writing = _temporary_name(self.path) if atomic else self.path
        self._file = open(self._writing, "wb")
        self._records = RecordWriter(self._file)
        self._flushed = time.monotonic()
        self._add(self._event(wall_time=time.time(), file_version="brain.Event:2"))

    def _add(self, event):
        self._records.write(event.SerializeToString())
        if time.monotonic() - self._flushed > _FLUSH_SECONDS:
            self.flush()

    def summary(self, summary, step=0):
        """A `Summary` proto (or its serialized bytes) at `step`."""
        if isinstance(summary, bytes):
            from tensorboard.compat.proto import summary_pb2

            summary = summary_pb2.Summary.FromString(summary)
        self._add(self._event(wall_time=time.time(), step=int(step), summary=summary))

    def scalar(self, tag, value, step):
        import numpy as np
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb

        # TensorBoard stores float32: a diverging loss past its range is logged as inf.
        with np.errstate(over="ignore"):
            self.summary(scalar_pb(tag, np.float32(value)), step)

    def image(self, tag, encoded, width, height):
        """An encoded PNG or GIF, in the image plugin's layout (width, height, image): a
        GIF keeps its frames, and TensorBoard serves it as image/gif, so it plays."""
        import numpy as np
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.image import metadata as image_metadata
        from tensorboard.util import tensor_util

        tensor = tensor_util.make_tensor_proto(np.array([str(width), str(height), encoded], dtype=object))
        value = summary_pb2.Summary.Value(
            tag=tag, tensor=tensor, metadata=image_metadata.create_summary_metadata(display_name=tag, description=""))
        self.summary(summary_pb2.Summary(value=[value]))

    def flush(self):
        self._file.flush()
        self._flushed = time.monotonic()

    def close(self):
        """Writes what is buffered and closes the file (an atomic one appears now, whole);
        raises OSError if any of it could not be written. Closing twice does nothing."""
        if self._file.closed:
            return
        try:
            self._file.close()
            if self._writing != self.path:
                os.replace(self._writing, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self):
        """Closes the file and, if it is an atomic one, removes what was written of it."""
        try:
            self._file.close()
        except OSError:
            pass
        if self._writing != self.path and os.path.lexists(self._writing):
            os.remove(self._writing)
