"""Device choice: the only module that knows about CuPy.

Everything else asks this module for the array module (``xp``), moves arrays with :func:`to_device`
/ :func:`to_numpy`, and seeds with :func:`random_state`.
"""
from neuralcollage import _compat  # noqa: F401  (NumPy aliases before Chainer)

import chainer
import numpy

__all__ = ["get_device", "to_device", "to_numpy", "get_array_module", "random_state",
           "gpu_available", "DeviceError"]


class DeviceError(RuntimeError):
    """The requested device cannot be used (no CuPy, no GPU, bad id)."""


def gpu_available():
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_device(gpu=None):
    """Return a ``chainer.backend.Device`` for ``gpu`` (None or negative: CPU, else CUDA device id).

    Raises:
        DeviceError: a GPU was asked for but CuPy or the device is not available.
    """
    if gpu is None or (isinstance(gpu, int) and gpu < 0):
        return chainer.get_device("@numpy")
    if isinstance(gpu, chainer.backend.Device):
        return gpu
    if not gpu_available():
        raise DeviceError(
            f"GPU {gpu} was requested but CuPy/CUDA is not available; install the extra "
            "'neuralcollage[gpu-cuda12]' or '[gpu-cuda13]', or run on the CPU")
    try:
        return chainer.get_device(f"@cupy:{int(gpu)}")
    except Exception as exc:
        raise DeviceError(f"cannot use GPU {gpu}: {exc}") from None


def get_array_module(*arrays):
    """NumPy or CuPy, whichever holds ``arrays`` (Chainer variables allowed)."""
    return chainer.backend.get_array_module(*arrays)


def to_device(array, device):
    """Copy a NumPy/CuPy array (or None) to ``device`` (a Device, a gpu id or None)."""
    if array is None:
        return None
    if not isinstance(device, chainer.backend.Device):
        device = get_device(device)
    return device.send(array)


def to_numpy(array):
    """A NumPy copy (or view) of a NumPy/CuPy array or Chainer variable."""
    if isinstance(array, chainer.Variable):
        array = array.array
    return chainer.backend.CpuDevice().send(array)


def random_state(seed):
    """``numpy.random.RandomState`` from an int seed, a RandomState (returned as is) or None."""
    if isinstance(seed, numpy.random.RandomState):
        return seed
    return numpy.random.RandomState(seed)
