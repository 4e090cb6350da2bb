"""NumPy aliases that Chainer 7.8.1 still uses and NumPy >= 1.24 / 2.0 removed.

Imported before Chainer by every module of this package that imports Chainer.  Only these names are
restored, only when missing:

* ``numpy.float`` (``F.resize_images`` and five other functions), ``numpy.bool`` (one function),
* ``numpy.sctypes`` (``F.as_strided``, imported by ``chainer.functions`` itself).
"""
import numpy

_ALIASES = {"float": float, "bool": bool}


def _restore():
    for name, value in _ALIASES.items():
        if name not in numpy.__dict__:
            setattr(numpy, name, value)
    if "sctypes" not in numpy.__dict__:
        numpy.sctypes = {
            "int": [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
            "uint": [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
            "float": [numpy.float16, numpy.float32, numpy.float64],
            "complex": [numpy.complex64, numpy.complex128],
            "others": [bool, object, bytes, str, numpy.void],
        }


_restore()
