"""Chainer on today's NumPy/Python: imported by every module of this package that imports Chainer.

All of it lives in the top-level module ``_neuralcollage_chainer`` (installed beside this package, and run at
interpreter start-up by its ``.pth`` line, so the import order does not matter); see that module's docstring.
Importing this module makes sure its import hook is in place even where the start-up line did not run (a
checkout on ``PYTHONPATH``, ``python -S``).
"""
import _neuralcollage_chainer

_neuralcollage_chainer.install()
