"""TensorBoard event files, written with TensorBoard's own pure-Python writer.

No TensorFlow op runs per value: logging a scalar costs microseconds rather than the
fraction of a millisecond an eager `tf.summary` call takes (which, at a two-weight model's
three values per step, was a third of its training time), and the logs are the same
whichever Keras backend trains.
"""

import time

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util


class EventFile:
    """One event file in `folder`. Errors writing it (a full disk) surface as OSError at
    the next write or at `close`."""

    def __init__(self, folder):
        # Values are queued and written by a background thread; a queue of a few thousand
        # keeps a fast trial from waiting on it.
        self._writer = EventFileWriter(folder, max_queue_size=4096, flush_secs=10)

    def summary(self, summary, step=0):
        if isinstance(summary, bytes):
            summary = summary_pb2.Summary.FromString(summary)
        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalar(self, tag, value, step):
        # TensorBoard stores float32: a diverging loss past its range is logged as inf.
        with np.errstate(over="ignore"):
            self.summary(scalar_pb(tag, np.float32(value)), step)

    def image(self, tag, encoded, width, height):
        """An encoded PNG or GIF, in the image plugin's layout (width, height, image): a
        GIF keeps its frames, and TensorBoard serves it as image/gif, so it plays."""
        tensor = tensor_util.make_tensor_proto(np.array([str(width), str(height), encoded], dtype=object))
        value = summary_pb2.Summary.Value(
            tag=tag, tensor=tensor, metadata=image_metadata.create_summary_metadata(display_name=tag, description=""))
        self.summary(summary_pb2.Summary(value=[value]))

    def close(self):
        self._writer.close()
