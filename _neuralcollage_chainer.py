"""Keeps Chainer 7.8.1 importable on today's NumPy, Python and setuptools -- the one place that does.

Chainer 7.8.1 (2020) is the framework of the official snapshots, and nothing newer exists.  Three things it
still relies on are gone:

* ``numpy.float`` and ``numpy.bool`` (removed in NumPy 1.24): ``F.resize_images`` and five other functions
  use the first, one function the second;
* ``numpy.sctypes`` (removed in NumPy 2.0): ``chainer.functions.array.as_strided`` reads it when
  ``chainer.functions`` is imported;
* ``chainer/_environment_check.py``, run by ``import chainer``, imports ``numpy.distutils`` (gone on Python
  >= 3.12 whatever the NumPy) and ``pkg_resources`` (gone from setuptools >= 81).  It only warns about old
  CuPy/iDeep package names and the macOS Accelerate BLAS; it knows nothing of ``cupy-cuda12x``/``13x``.

What this module does, and nothing more:

1. when ``chainer`` is about to be imported, it adds the three NumPy names above if (and only if) NumPy lacks
   them: ``float``, ``bool`` and a ``sctypes`` table of NumPy's own scalar types;
2. it supplies ``chainer._environment_check`` as a module whose ``check()`` does nothing, so neither
   ``numpy.distutils`` nor ``pkg_resources`` is needed at run time.

No other name of Chainer or NumPy is touched.

How it runs before Chainer, whatever the import order: installing ``neuralcollage`` (wheel or editable) puts
``neuralcollage-chainer.pth`` in site-packages (see ``setup.py``).  Python executes its one line at start-up;
that line calls :func:`install`, which only appends a small finder to ``sys.meta_path`` -- it imports neither
NumPy nor Chainer, so start-up stays fast.  The finder acts on two module names only: on ``chainer`` it
restores the NumPy names and lets the normal import go on, and for ``chainer._environment_check`` it provides
the no-op module.  ``neuralcollage._compat`` (imported by every module of the package that uses Chainer)
calls :func:`install` too, so running from a checkout without installing (``PYTHONPATH=.``) works as long as
the package is imported first.

Set ``NEURALCOLLAGE_CHAINER_HOOK=0`` to keep the start-up line from installing the finder (``install()`` called
by the package itself still does).  Removing the package (``pip uninstall neuralcollage``) removes the line.
"""
import os
import sys

__all__ = ["install", "restore_numpy_aliases", "ENV_SWITCH"]

ENV_SWITCH = "NEURALCOLLAGE_CHAINER_HOOK"
_ENV_CHECK = "chainer._environment_check"


def restore_numpy_aliases():
    """Add ``numpy.float``, ``numpy.bool`` and ``numpy.sctypes`` where this NumPy lacks them; returns their names."""
    import numpy

    added = []
    for name, value in (("float", float), ("bool", bool)):
        if name not in numpy.__dict__:
            setattr(numpy, name, value)
            added.append(name)
    if "sctypes" not in numpy.__dict__:
        numpy.sctypes = {
            "int": [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
            "uint": [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
            "float": [numpy.float16, numpy.float32, numpy.float64],
            "complex": [numpy.complex64, numpy.complex128],
            "others": [bool, object, bytes, str, numpy.void],
        }
        added.append("sctypes")
    return added


class _NoEnvironmentCheck:
    """Loader of the stand-in ``chainer._environment_check``: a module whose ``check()`` does nothing."""

    @staticmethod
    def create_module(spec):
        return None  # the default module object

    @staticmethod
    def exec_module(module):
        module.__doc__ = ("Stand-in for Chainer's import-time environment check, supplied by "
                          "_neuralcollage_chainer (the original needs numpy.distutils and pkg_resources).")
        module.check = lambda: None


class ChainerFinder:
    """A ``sys.meta_path`` entry that prepares NumPy for ``chainer`` and stands in for its environment check."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "chainer":
            try:
                restore_numpy_aliases()
            except ImportError:  # no NumPy: Chainer's own import will say so
                pass
            return None  # the regular finders import Chainer itself
        if fullname == _ENV_CHECK:
            from importlib.machinery import ModuleSpec
            return ModuleSpec(fullname, _NoEnvironmentCheck(), origin=__file__)
        return None

    def invalidate_caches(self):
        pass


def install():
    """Put the finder on ``sys.meta_path`` (once); when Chainer is already imported, restore the aliases now.

    Safe to call any number of times.  Returns the finder.
    """
    for finder in sys.meta_path:
        if isinstance(finder, ChainerFinder) or type(finder).__name__ == "ChainerFinder":
            break
    else:
        finder = ChainerFinder()
        sys.meta_path.insert(0, finder)
    if "chainer" in sys.modules:
        restore_numpy_aliases()
    return finder


def _startup():
    """Called by the ``.pth`` line at interpreter start-up: never raises, honours ``$NEURALCOLLAGE_CHAINER_HOOK``."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "no", "off", "false"):
        return
    try:
        install()
    except Exception:  # a start-up hook must never stop the interpreter
        pass
