"""Importing TensorFlow quietly and choosing the device the comparison runs on."""

import os
import re
import sys
import tempfile
from contextlib import contextmanager

# TensorFlow >= 2.19 logs some start-up lines before absl's logging is initialised, and
# those ignore TF_CPP_MIN_LOG_LEVEL (tensorflow/tensorflow#100442). Only these are dropped:
# INFO lines, the banner announcing them, and the cuInit failure that every machine without
# an NVIDIA driver reports (the device line we print says so). Warnings and errors pass.
_NOISE = re.compile(
    r"^(I\d{4} |WARNING: All log messages before absl::InitializeLog\(\)|"
    r"E\d{4} .*failed call to cuInit)"
)


class DeviceError(RuntimeError):
    """The requested device is not available."""


@contextmanager
def _native_stderr_filtered():
    """Captures file descriptor 2 (where C++ logs go) and re-emits all but the noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if not _NOISE.match(line):
                    print(line, file=sys.stderr)


def import_tensorflow(device):
    """Imports TensorFlow with Keras on it, and picks the device: 'auto', 'cpu' or 'gpu'.

    Returns a one-line description of the device used.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _native_stderr_filtered():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise DeviceError("--device gpu: TensorFlow sees no GPU on this machine; use --device cpu or auto")
    if device == "cpu" or not gpus:
        # Hide GPUs before any op runs, so nothing is placed on them.
        tf.config.set_visible_devices([], "GPU")
        reason = "" if gpus else ", no GPU found"
        return f"CPU ({os.cpu_count()} cores{reason})"
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return f"GPU ({', '.join(names)})"
