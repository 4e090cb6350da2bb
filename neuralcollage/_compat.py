"""NumPy aliases that Chainer 7.8.1 still uses and NumPy >= 1.24 / 2.0 removed.

Imported before Chainer by every module of this package that imports Chainer (and by the package itself).
Only these names are restored, only when missing:

* ``numpy.float`` (``F.resize_images`` and five other functions), ``numpy.bool`` (one function),
* ``numpy.sctypes`` (``F.as_strided``, imported by ``chainer.functions`` itself).

Importing this module does not import NumPy: when NumPy is already loaded the aliases are set at once,
otherwise an import hook sets them just before Chainer is first imported.  So ``import neuralcollage`` stays
light (the command line handles Ctrl-C from its first instant) and Chainer always finds the aliases.
"""
import sys

_ALIASES = {"float": float, "bool": bool}


def _restore():
    import numpy
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


class _BeforeChainer:
    """A ``sys.meta_path`` entry that restores the aliases when Chainer is about to be imported; it finds
    nothing itself (the normal finders load Chainer)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "chainer" or name.startswith("chainer."):
            _restore()
        return None


def _install():
    if "numpy" in sys.modules:
        _restore()
    if not any(isinstance(finder, _BeforeChainer) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BeforeChainer())


_install()
