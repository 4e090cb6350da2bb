"""Everything about the package is in setup.cfg; this file only adds the start-up line for Chainer.

``neuralcollage-chainer.pth`` goes to the root of site-packages, beside the top-level module
``_neuralcollage_chainer`` (see its docstring for why).  A ``.pth`` file at the root of a wheel is the
standard way to run one line at interpreter start-up; setuptools has no option for it, hence this build_py:

* wheel (``pip install .``, ``python -m build``): the file is written into ``build_lib``, whose whole content
  becomes the wheel;
* editable wheel (``pip install -e .``): setuptools' ``editable_wheel`` does not pack ``build_lib``; it packs
  the folder it names as the ``install`` command's ``install_lib`` (the unpacked wheel), so the file is
  written there too.
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "neuralcollage-chainer.pth"
# One line, run by site.py at start-up.  It does nothing when the module is missing, and the module's
# _startup() never raises.  The name sorts after setuptools' "__editable__.*.pth", whose finder an editable
# install needs before this line can find the module.
PTH_LINE = ('import importlib.util as _nc_u; _nc_u.find_spec("_neuralcollage_chainer") '
            'and __import__("_neuralcollage_chainer")._startup()\n')


class build_py_with_pth(build_py):
    def run(self):
        super().run()
        targets = [self.build_lib]
        if getattr(self, "editable_mode", False):
            targets = [self.get_finalized_command("install").install_lib]
        for folder in targets:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, PTH_NAME), "w", encoding="utf-8") as fh:
                fh.write(PTH_LINE)

    def get_outputs(self, *args, **kwargs):
        outputs = list(super().get_outputs(*args, **kwargs))
        if not getattr(self, "editable_mode", False):
            outputs.append(os.path.join(self.build_lib, PTH_NAME))
        return outputs


setup(cmdclass={"build_py": build_py_with_pth})
