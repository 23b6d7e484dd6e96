"""The Keras backend the comparison trains on, the devices it uses, and data-parallel training.

The backend is chosen before Keras loads (Keras reads `KERAS_BACKEND` once, at import), and
the device line, `--device` and `--mixed-precision` ask that backend about its devices:
`tf.config` on TensorFlow, `jax.devices()` on JAX, `torch.cuda` on PyTorch. TensorFlow loads
on every backend, because `tf.data` feeds the two-weight models; on JAX and PyTorch it only
feeds data, so it is given no GPU.

Data parallelism uses each engine's own: `tf.distribute.MirroredStrategy` on TensorFlow,
`keras.distribution.DataParallel` on JAX. Keras's PyTorch backend has none for `fit`.

`TRAIN_CPU_DEVICES=N` splits the CPU into N devices (TensorFlow logical devices; JAX host
devices, through `XLA_FLAGS=--xla_force_host_platform_device_count=N`), so that `--distribute`
can be tried and tested on a machine without accelerators. The N devices share the same
cores: it shows that the replicas agree, not that they are faster.
"""

import importlib.util
import os
import re
import sys
import tempfile
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from runtime.errors import UsageError

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "tensorflow"
CPU_DEVICES_VARIABLE = "TRAIN_CPU_DEVICES"
_INSTALL = {
    "tensorflow": "pip install -r requirements.txt",
    "jax": "pip install jax (the CPU build; see JAX's install guide for GPUs)",
    "torch": "for the CPU build: pip install torch --index-url https://download.pytorch.org/whl/cpu",
}

# TensorFlow >= 2.19 logs some start-up lines before absl's logging is initialised, and
# those ignore TF_CPP_MIN_LOG_LEVEL (tensorflow/tensorflow#100442). Only these are dropped:
# INFO lines, the banner announcing them, and the cuInit failure that every machine without
# an NVIDIA driver reports (the device line we print says so). Warnings and errors pass.
_NOISE = re.compile(
    r"^(I\d{4} |WARNING: All log messages before absl::InitializeLog\(\)|"
    r"E\d{4} .*failed call to cuInit)"
)


class DeviceError(UsageError):
    """The requested backend or device is not available."""


@dataclass
class Devices:
    """What the chosen backend trains on; `start()` makes it, and the comparison passes it
    down to whatever builds models."""

    backend: str
    gpu: bool  # the backend trains on GPUs (or another accelerator)
    names: list  # the devices (backend's names) a data-parallel run splits each batch over
    description: str
    strategy: object = None  # TensorFlow's MirroredStrategy, once data_parallel made it

    def __str__(self):
        return f"{self.description}, Keras backend {self.backend}"

    def scope(self):
        """Where to build and compile a model so that it trains data-parallel (see
        data_parallel); anywhere, otherwise."""
        return self.strategy.scope() if self.strategy is not None else nullcontext()


def default_backend():
    return os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND


def backend_problem(name):
    """Why `name` cannot be the backend, in a few words, or None. Imports nothing."""
    if name not in BACKENDS:
        return f"expected one of {', '.join(BACKENDS)}, got {name!r}"
    if importlib.util.find_spec(name) is None:
        return f"{name} is not installed ({_INSTALL[name]})"
    return None


def select_backend(name):
    """Makes `name` the backend Keras loads with; call it before anything imports Keras."""
    problem = backend_problem(name)
    if problem:
        raise DeviceError(f"--backend {name}: {problem}")
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != name:
            raise DeviceError(f"--backend {name}: Keras was already loaded on {keras.backend.backend()}")
    os.environ["KERAS_BACKEND"] = name


def _cpu_device_count():
    text = os.environ.get(CPU_DEVICES_VARIABLE, "1")
    if not text.isdigit() or int(text) < 1:
        raise DeviceError(f"{CPU_DEVICES_VARIABLE}={text!r}: expected a whole number of at least 1")
    return int(text)


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


@contextmanager
def quiet_native_logs():
    """For code that may import TensorFlow (a keras.datasets loader, before start()): its
    C++ start-up logs kept out of the terminal, as start() keeps them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_filtered():
        yield


def _cpu_description(cpu_devices=1, gpu_hidden=False):
    split = f" as {cpu_devices} devices" if cpu_devices > 1 else ""
    return f"CPU ({os.cpu_count()} cores{split}{'' if gpu_hidden else ', no GPU found'})"


def import_tensorflow(device, cpu_devices=1):
    """Imports TensorFlow quietly, and picks its device: 'auto', 'cpu' or 'gpu'.

    Returns a one-line description of the device used. `cpu_devices` > 1 splits the CPU
    into that many logical devices (see the module's docstring).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _native_stderr_filtered():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise DeviceError("--device gpu: TensorFlow sees no GPU on this machine; use --device cpu or auto")
    if cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
    if device == "cpu" or not gpus:
        # Hide GPUs before any op runs, so nothing is placed on them.
        tf.config.set_visible_devices([], "GPU")
        return _cpu_description(cpu_devices, gpu_hidden=bool(gpus))
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return f"GPU ({', '.join(names)})"


def start(backend, device="auto", distribute=False):
    """Loads Keras on `backend` with `device` ('auto', 'cpu' or 'gpu'); returns its Devices.

    Raises DeviceError, with a one-line message, when the backend is not installed, has no
    GPU where `device` asks for one, or cannot train data-parallel where `distribute` asks.
    Everything that can be checked before a backend loads is checked first.
    """
    select_backend(backend)
    if distribute and backend == "torch":
        raise DeviceError("--distribute: Keras's torch backend has no data-parallel fit; "
                          "use --backend tensorflow or jax")
    cpu_devices = _cpu_device_count()
    # These must be set before JAX or PyTorch loads: each reads them once.
    if backend == "jax" and cpu_devices > 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + f" --xla_force_host_platform_device_count={cpu_devices}").strip()
    if backend == "jax" and device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    if backend == "torch" and device == "cpu":
        os.environ["KERAS_TORCH_DEVICE"] = "cpu"

    if backend == "tensorflow":
        description = import_tensorflow(device, cpu_devices)
        found = _tensorflow_devices(description)
    else:
        import_tensorflow("cpu")  # for tf.data only
        found = _jax_devices(device) if backend == "jax" else _torch_devices(device)
    with _native_stderr_filtered():
        import keras  # loads the backend

    # What Keras itself reports, so the device line cannot claim a backend that is not training.
    if keras.backend.backend() != backend:
        raise DeviceError(f"--backend {backend}: Keras loaded {keras.backend.backend()} instead")
    return Devices(keras.backend.backend(), *found)


def _tensorflow_devices(description):
    import tensorflow as tf

    gpu = not description.startswith("CPU")
    return gpu, [d.name for d in tf.config.list_logical_devices("GPU" if gpu else "CPU")], description


def _jax_devices(device):
    with _native_stderr_filtered():
        import jax

    accelerators = [d for d in jax.devices() if d.platform != "cpu"]
    if device == "gpu" and not accelerators:
        raise DeviceError("--device gpu: JAX sees no GPU on this machine (it needs a CUDA build of jaxlib); "
                          "use --device cpu or auto")
    if accelerators:
        names = [f"{d.platform}:{d.id}" for d in accelerators]
        return True, names, f"GPU ({', '.join(d.device_kind for d in accelerators)})"
    cpus = [f"{d.platform}:{d.id}" for d in jax.devices("cpu")]
    return False, cpus, _cpu_description(len(cpus), gpu_hidden=device == "cpu")


def _torch_devices(device):
    import torch

    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if device == "gpu" and not (cuda or mps):
        raise DeviceError("--device gpu: PyTorch sees no GPU on this machine (it needs a CUDA build of torch); "
                          "use --device cpu or auto")
    # Keras's torch backend trains on one device, chosen in this order: Apple's MPS, the
    # first CUDA GPU, the CPU (KERAS_TORCH_DEVICE=cpu, set above for --device cpu).
    if device != "cpu" and mps:
        return True, ["mps"], "GPU (Apple MPS)"
    if device != "cpu" and cuda:
        return True, ["cuda:0"], f"GPU ({torch.cuda.get_device_name(0)})"
    return False, ["cpu"], _cpu_description(gpu_hidden=device == "cpu")


def data_parallel(devices):
    """Sets up data-parallel training over `devices.names`; returns a line that says how.

    Each batch (the same global batch as on one device) is split evenly over the devices,
    every device holds a copy of the weights, and the gradients are averaged before the
    optimizer's step: the same update as on one device, to float32 rounding. On TensorFlow,
    models must be built and compiled inside `devices.scope()`; on JAX the
    distribution is global and applies to every model made after this call.
    """
    names = devices.names
    if len(names) < 2:
        return f"Data parallel: one device ({names[0]}), so it trains as it would without --distribute"
    if devices.backend == "tensorflow":
        import tensorflow as tf

        with _native_stderr_filtered():
            devices.strategy = tf.distribute.MirroredStrategy(names)
        engine = "tf.distribute.MirroredStrategy"
    elif devices.backend == "jax":
        import keras

        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=names))
        engine = "keras.distribution.DataParallel"
    else:
        raise DeviceError(f"--distribute: not available on {devices.backend}")
    return f"Data parallel: {len(names)} replicas ({', '.join(names)}) with {engine}"


def uneven_split(replicas, trials, data, models):
    """Why some batch of `trials` cannot be split evenly over `replicas` devices, or None.

    Keras's data-parallel fit needs every batch, the last of an epoch and the validation
    batches included, to split into equal shares (TensorFlow fails on unequal shares, JAX on
    a batch its devices do not divide).
    """
    if replicas < 2:
        return None
    for model, batch in dict.fromkeys((t.model, t.batch_size) for t in trials):
        shares = sorted(models[model].batch_sizes(data[model], batch))
        if any(share % replicas for share in shares):
            return (f"--distribute over {replicas} devices: {model} trains on batches of "
                    f"{' and '.join(map(str, shares))}, which do not split into equal shares (Keras's "
                    f"data-parallel fit needs them); {models[model].uneven_batch_advice}")
    return None
