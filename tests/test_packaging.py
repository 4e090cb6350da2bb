"""Chainer on today's NumPy and Python whatever the import order (the start-up hook of _neuralcollage_chainer,
run in fresh interpreters), and what a wheel and an sdist of the project hold."""
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOOK = os.path.join(ROOT, "_neuralcollage_chainer.py")

pytestmark = pytest.mark.core

#: Makes ``pkg_resources`` and ``numpy.distutils`` unimportable, as on Python >= 3.12 with setuptools >= 81.
BLOCK = textwrap.dedent("""\
    import sys
    class _Gone:
        def find_spec(self, name, path=None, target=None):
            if name == "pkg_resources" or name.startswith("numpy.distutils"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
            return None
    sys.meta_path.insert(0, _Gone())
    """)


def _pth_line():
    """The start-up line setup.py installs (read from setup.py, so the test runs the shipped text)."""
    namespace = {}
    source = open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read()
    exec(compile(source.split("\nclass ", 1)[0], "setup.py", "exec"), namespace)  # constants only, no setup()
    return namespace["PTH_NAME"], namespace["PTH_LINE"]


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory):
    """A folder laid out like site-packages after an install: the module and its .pth line."""
    if not os.path.exists(HOOK):
        pytest.skip("_neuralcollage_chainer.py is not beside the tests")
    folder = tmp_path_factory.mktemp("site")
    name, line = _pth_line()
    shutil.copy(HOOK, folder / "_neuralcollage_chainer.py")
    (folder / name).write_text(line)
    return str(folder)


def _python(code, site, *, block=False, env=None):
    """Run ``code`` in a fresh interpreter whose start-up processes ``site`` like site-packages."""
    prelude = (BLOCK if block else "") + f"import site; site.addsitedir({site!r})\n"
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEURALCOLLAGE_CHAINER_HOOK")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env=environ, cwd=site)


USE_CHAINER = """
    import sys
    import numpy
    before = set(numpy.__dict__)
    import chainer
    import chainer.functions as F
    y = F.resize_images(numpy.zeros((1, 1, 4, 4), numpy.float32), (8, 8))
    assert y.shape == (1, 1, 8, 8), y.shape
    F.as_strided(numpy.arange(6, dtype=numpy.float32), (2, 2), (2, 1))
    import chainer._environment_check as check
    assert "_neuralcollage_chainer" in check.__doc__, check.__doc__
    check.check()
    import types
    added = {n for n in set(numpy.__dict__) - before if not isinstance(numpy.__dict__[n], types.ModuleType)}
    assert added == {"float", "bool", "sctypes"} - before, added  # what this NumPy lacks, and nothing else
    for gone in ("pkg_resources", "numpy.distutils"):
        assert gone not in sys.modules, gone
    print("added:", sorted(added))
"""


def test_chainer_imported_first_and_alone_works(site_dir):
    proc = _python(USE_CHAINER, site_dir)
    assert proc.returncode == 0, proc.stderr
    import numpy
    if int(numpy.__version__.split(".")[0]) >= 2:
        assert proc.stdout.strip() == "added: ['float', 'sctypes']"  # NumPy 2 has numpy.bool again


def test_without_pkg_resources_and_numpy_distutils(site_dir):
    proc = _python(USE_CHAINER, site_dir, block=True)
    assert proc.returncode == 0, proc.stderr


def test_the_blocked_imports_are_what_chainer_would_need_without_the_hook(site_dir):
    """The controls, with the start-up hook switched off: Chainer fails on NumPy's missing names, and with only
    those restored, its own environment check fails on the blocked imports."""
    off = {"NEURALCOLLAGE_CHAINER_HOOK": "0"}
    import numpy
    if int(numpy.__version__.split(".")[0]) >= 2:
        proc = _python("import chainer.functions", site_dir, env=off)
        assert proc.returncode != 0 and "sctypes" in proc.stderr, proc.stderr
    proc = _python(f"""
        import sys
        sys.path.insert(0, {site_dir!r})
        import _neuralcollage_chainer
        _neuralcollage_chainer.restore_numpy_aliases()
        import chainer
    """, site_dir, block=True, env=off)
    assert proc.returncode != 0
    assert "blocked by the test" in proc.stderr and "_environment_check" in proc.stderr, proc.stderr


@pytest.mark.parametrize("order", ["import chainer, neuralcollage", "import neuralcollage, chainer",
                                   "import chainer.links, neuralcollage.models"])
def test_any_import_order(site_dir, order):
    code = f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        {order}
        import numpy, chainer.functions as F
        F.resize_images(numpy.zeros((1, 1, 2, 2), numpy.float32), (3, 3))
        assert "pkg_resources" not in sys.modules
    """
    proc = _python(code, site_dir, block=True)
    assert proc.returncode == 0, proc.stderr


def test_start_up_imports_neither_numpy_nor_chainer(site_dir):
    proc = _python("""
        import sys
        finders = [f for f in sys.meta_path if type(f).__name__ == "ChainerFinder"]
        print(len(finders), "numpy" in sys.modules, "chainer" in sys.modules)
    """, site_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "False", "False"]


def test_a_missing_module_does_not_break_start_up(tmp_path):
    name, line = _pth_line()
    (tmp_path / name).write_text(line)
    proc = _python("print('started')", str(tmp_path))
    assert proc.returncode == 0 and proc.stdout.strip() == "started" and proc.stderr == "", proc.stderr


def test_install_is_idempotent_and_late_installs_still_restore(site_dir):
    proc = _python(f"""
        import sys
        sys.path.insert(0, {site_dir!r})
        import _neuralcollage_chainer as h
        h.install(); h.install()
        print(sum(type(f).__name__ == "ChainerFinder" for f in sys.meta_path))
    """, site_dir)
    assert proc.returncode == 0 and proc.stdout.strip() == "1", proc.stderr


# ------------------------------------------------------------------------------------------------ wheel, sdist

def _source_copy(tmp_path):
    """The tracked files of the checkout (a build writes into its source folder)."""
    dest = tmp_path / "src"
    try:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                               timeout=60).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for rel in filter(None, files):
        if os.path.exists(os.path.join(ROOT, rel)):
            os.makedirs(dest / os.path.dirname(rel), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), dest / rel)
    return dest


@pytest.mark.slow
def test_wheel_holds_the_model_the_hook_and_the_licence(tmp_path):
    import importlib.util
    if not (importlib.util.find_spec("wheel") or importlib.util.find_spec("setuptools.command.bdist_wheel")):
        pytest.skip("no bdist_wheel here (the wheel package, or setuptools >= 70.1) to build offline")
    src = _source_copy(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = os.listdir(tmp_path / "dist")
    names = set(zipfile.ZipFile(tmp_path / "dist" / wheel).namelist())
    name, line = _pth_line()
    assert {name, "_neuralcollage_chainer.py", "neuralcollage/data/pretrained/manifest.json",
            "neuralcollage/data/examples/cat.png"} <= names
    for kind in ("generator", "discriminator", "encoder"):
        assert f"neuralcollage/data/pretrained/builtin64/{kind}.npz" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    assert zipfile.ZipFile(tmp_path / "dist" / wheel).read(name).decode() == line


@pytest.mark.slow
def test_sdist_holds_what_the_tests_need(tmp_path):
    src = _source_copy(tmp_path)
    proc = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path / "dist")], cwd=src,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (sdist,) = os.listdir(tmp_path / "dist")
    with tarfile.open(tmp_path / "dist" / sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"LICENSE", "setup.py", "build-constraints.txt", "_neuralcollage_chainer.py", "tests/conftest.py",
            "tests/nc_reference.py", "tests/data/chelsea.jpg", "neuralcollage/data/pretrained/builtin64/generator.npz",
            "scripts/train_builtin.sh", "notebooks/01_quickstart.ipynb"} <= names
    tests = {n for n in names if n.startswith("tests/test_") and n.endswith(".py")}
    assert len(tests) >= 20


def test_the_built_in_model_is_package_data_that_setup_cfg_ships(monkeypatch, tmp_path):
    import configparser
    import fnmatch

    import neuralcollage
    from neuralcollage.pretrained import builtin_dir, pretrained_dir
    monkeypatch.delenv("NEURALCOLLAGE_PRETRAINED", raising=False)
    package = os.path.dirname(os.path.abspath(neuralcollage.__file__))
    assert pretrained_dir() == os.path.join(package, "data", "pretrained")
    shipped = []
    for folder, _, files in os.walk(pretrained_dir()):
        shipped += [os.path.relpath(os.path.join(folder, f), package).replace(os.sep, "/") for f in files
                    if not f.endswith(".pyc")]
    assert {"data/pretrained/manifest.json", "data/pretrained/builtin64/generator.npz"} <= set(shipped)
    setup_cfg = os.path.join(ROOT, "setup.cfg")
    if os.path.exists(setup_cfg):
        config = configparser.ConfigParser()
        config.read(setup_cfg)
        globs = [g.strip() for g in config["options.package_data"]["neuralcollage"].replace("\n", ",").split(",")
                 if g.strip()]
        missing = [f for f in shipped if not any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/")
                                                 for g in globs)]
        assert not missing, f"not in setup.cfg's package_data: {missing}"
    monkeypatch.setenv("NEURALCOLLAGE_PRETRAINED", str(tmp_path))
    assert pretrained_dir() == str(tmp_path) and builtin_dir() == str(tmp_path / "builtin64")
