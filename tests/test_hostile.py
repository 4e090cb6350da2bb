"""Hostile input: crafted model files, recipes, FIFOs and devices, huge options, signals (issue 23).

Every case must end with its documented exit status (2 input, 3 model), one ``collage: error:`` line, no
"internal error", no output or temporary file left, within 5 s and under 500 MB peak memory.  The file cases
run in one child process under an address-space limit (``RLIMIT_AS``), so an allocation the validation
failed to prevent ends the child instead of the machine; its peak resident memory is the child's own
``VmHWM`` (``wait4``'s figure also counts the test process's pages that a forked child shares before exec,
hundreds of MB late in a full run).
"""
import io
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

import neuralcollage as nc
from neuralcollage import cli
from neuralcollage.snapshot import CONFIG_KEY

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT_AS = 1536 * 2 ** 20   # the child's address space (Python, NumPy, Chainer and OpenCV need about 1 GB)
PEAK_RSS = 500 * 2 ** 20    # the target: peak resident memory of the whole child
CASE_SECONDS = 5.0


# ------------------------------------------------------------------------------------------------ helpers

def _env(tmp_path, **extra):
    env = dict(os.environ, PYTHONPATH=REPO, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg",
               NEURALCOLLAGE_HOME=str(tmp_path / "home"), NEURALCOLLAGE_PRETRAINED=str(tmp_path / "pretrained"))
    env.update(extra)
    return env


def _spawn(args, *, tmp_path, timeout=120, limit=LIMIT_AS, env=None, stdin=subprocess.DEVNULL):
    """Run ``python args`` in ``tmp_path`` under ``limit``; (exit status, stdout, stderr, peak RSS bytes)."""
    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    with tempfile.TemporaryDirectory() as logs:
        out_path, err_path = os.path.join(logs, "out"), os.path.join(logs, "err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            child = subprocess.Popen([sys.executable, *args], cwd=tmp_path, stdout=out, stderr=err, stdin=stdin,
                                     env=env or _env(tmp_path), preexec_fn=limit_memory)
            deadline = time.monotonic() + timeout
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    child.kill()
                    os.wait4(child.pid, 0)
                    pytest.fail(f"child {args} still running after {timeout} s")
                time.sleep(0.02)
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout, stderr = open(out_path).read(), open(err_path).read()
    return child.returncode, stdout, stderr, usage.ru_maxrss * 1024


DRIVER = textwrap.dedent("""
    import contextlib, io, json, os, sys, time
    from neuralcollage import cli
    import neuralcollage._compat, neuralcollage.collage, neuralcollage.loading, neuralcollage.pretrained  # warm
    results = []
    for case in json.load(open(sys.argv[1])):
        os.environ.update(case.get("env", {}))
        err = io.StringIO()
        start = time.monotonic()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(case["argv"])
        results.append({"name": case["name"], "code": code, "err": err.getvalue(),
                        "seconds": time.monotonic() - start})
    # the peak of this program's own memory (VmHWM of the process image after exec): the rusage of a forked
    # child also counts the pages it shared with the test process before exec
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    json.dump({"results": results, "peak": peak}, open(sys.argv[2], "w"))
""")


def _run_cases(tmp_path, cases):
    """Run ``cases`` (dicts: name, argv, optional env) through ``cli.main`` in one limited child."""
    (tmp_path / "driver.py").write_text(DRIVER)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    code, _, stderr, _ = _spawn(["driver.py", "cases.json", "results.json"], tmp_path=tmp_path, timeout=300)
    assert code == 0, stderr[-2000:]
    record = json.load(open(tmp_path / "results.json"))
    return {r["name"]: r for r in record["results"]}, record["peak"]


def _assert_refused(result, code, *fragments):
    lines = [line for line in result["err"].splitlines() if line.startswith("collage: error:")]
    assert result["code"] == code, (result["name"], result["err"])
    assert len(lines) == 1 and len(result["err"].strip().splitlines()) == 1, (result["name"], result["err"])
    assert "Traceback" not in result["err"] and "internal error" not in result["err"], result["err"]
    for fragment in fragments:
        assert fragment in lines[0], (result["name"], lines[0])
    assert result["seconds"] < CASE_SECONDS, (result["name"], result["seconds"])


def _assert_no_leftovers(folder):
    left = [n for n in os.listdir(folder) if n.endswith(".tmp") or n.startswith("out")]
    assert not left, left


def _photo(path, size=(48, 64), icc=None):
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) % 256], -1).astype(np.uint8)
    Image.fromarray(img).save(path, **({"icc_profile": icc} if icc else {}))
    return str(path)


def _mask(path, size=(48, 64)):
    m = np.zeros(size, np.uint8)
    m[10:30, 20:40] = 255
    Image.fromarray(m).save(path)
    return str(path)


def _npz(path, arrays, *, extra=None):
    """An uncompressed .npz of ``arrays`` written member by member (plus ``extra`` raw members)."""
    with zipfile.ZipFile(path, "w") as zf:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(value), allow_pickle=False)
            zf.writestr(key + ".npy", buffer.getvalue())
        for name, (data, method) in (extra or {}).items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return str(path)


def _patch_member(path, name, *, file_size=None, crc=None):
    """Overwrite what the zip directory and local header of ``name`` declare (its size, its CRC)."""
    data = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
        start = zf.start_dir
    local = info.header_offset
    pos = start
    while data[pos:pos + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", data[pos + 28:pos + 34])
        if data[pos + 46:pos + 46 + n].decode() == name:
            if file_size is not None:
                struct.pack_into("<I", data, pos + 24, file_size)
                struct.pack_into("<I", data, local + 22, file_size)
            if crc is not None:
                struct.pack_into("<I", data, pos + 16, crc)
                struct.pack_into("<I", data, local + 14, crc)
        pos += 46 + n + m + k
    open(path, "wb").write(bytes(data))


def _arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _with_config(src, dst, change):
    arrays = _arrays(src)
    record = json.loads(str(arrays[CONFIG_KEY]))
    change(record)
    arrays[CONFIG_KEY] = np.array(json.dumps(record))
    return _npz(dst, arrays)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny model, a photo with an ICC profile, a mask, and a recipe of an edit of them."""
    root = tmp_path_factory.mktemp("hostile")
    model = root / "model"
    model.mkdir()
    rng = np.random.RandomState(0)
    g = nc.Generator.from_preset("tiny32", n_classes=4)
    for p in g.params():
        p.array[...] += rng.normal(0, 0.01, p.shape).astype(np.float32)
    nc.save_snapshot(g, str(model / "generator.npz"), kind="generator")
    nc.save_snapshot(nc.Discriminator.from_preset("tiny32", n_classes=4), str(model / "discriminator.npz"),
                     kind="discriminator")
    (model / "labels.txt").write_text("cat\ndog\nfox\nowl\n")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo, mask = _photo(root / "photo.png", icc=icc), _mask(root / "mask.png")
    old = os.getcwd()
    os.chdir(root)
    try:
        code = cli.main(["--base", photo, "--mask", mask, "--label", "fox", "--source-label", "cat", "--model",
                         str(model / "generator.npz"), "--steps", "2", "--fit-steps", "3", "-q", "-o",
                         str(root / "edited.png"),
                         "--save-recipe", str(root / "recipe.json")])
    finally:
        os.chdir(old)
    assert code == 0
    return {"root": root, "model": str(model / "generator.npz"), "photo": photo, "mask": mask, "icc": icc,
            "recipe": json.load(open(root / "recipe.json")), "edited": str(root / "edited.png")}


# ------------------------------------------------------------------------------------------------ files

@pytest.mark.slow
def test_hostile_files_fail_fast_in_one_line_within_memory(tmp_path, files):
    """Crafted model files and recipes, FIFOs, devices, directories: exit 2 or 3, one line, < 5 s each, and the
    whole child under 500 MB peak (it would need gigabytes had anything been allocated from the metadata)."""
    (tmp_path / "home").mkdir()
    (tmp_path / "pretrained").mkdir()
    src, photo = files["model"], files["photo"]
    bad = tmp_path / "bad"
    bad.mkdir()
    cases, expect = [], {}

    def case(name, argv, code, *fragments, env=None):
        cases.append({"name": name, "argv": [str(a) for a in argv], "env": env or {}})
        expect[name] = (code, fragments)

    def generate(name, path, code, *fragments, out="out.png"):
        case(name, ["generate", "--model", path, "--label", "0", "-q", "-o", tmp_path / out], code, *fragments)

    # warm-up (imports everything a command needs, so that the cases below are timed alone)
    generate("warm-up", src, 0, out="warm.png")
    # model metadata
    for name, change, fragment in [
            ("n_classes=500000", lambda r: r["config"].update(n_classes=500000), "n_classes"),
            ("n_classes=1e7", lambda r: r["config"].update(n_classes=10_000_000), "n_classes"),
            ("n_classes=99999 (in range)", lambda r: r["config"].update(n_classes=99999), "shape mismatches"),
            ("ch=4096 (in range)", lambda r: r["config"].update(ch=4096), "shape mismatches"),
            ("ch=0", lambda r: r["config"].update(ch=0), "metadata ch"),
            ("ch='16'", lambda r: r["config"].update(ch="16"), "metadata ch"),
            ("unknown key", lambda r: r["config"].update(evil=1), "unknown key 'evil'"),
            ("config list", lambda r: r.update(config=[1, 2]), "metadata must be a JSON object"),
            ("config null", lambda r: r.update(config=None), "metadata must be a JSON object"),
            ("channels huge", lambda r: r["config"].update(channels=[10 ** 6] * 4), "metadata channels")]:
        path = _with_config(src, bad / f"{len(cases)}.npz", change)
        generate(name, path, 3, fragment)
    # weights of the wrong dtype
    for dtype in ("int32", "bool", "complex64", "<U3"):
        arrays = _arrays(src)
        arrays["l1/W"] = arrays["l1/W"].astype(dtype)
        path = _npz(bad / f"dtype_{dtype.strip('<')}.npz", arrays)
        generate(f"dtype {dtype}", path, 3, path, "l1/W", "floating point")
    # an extra array: declared 3 GiB (never decompressed), and one whose data is damaged (never read)
    arrays = _arrays(src)
    path = _npz(bad / "declared3g.npz", arrays, extra={"extra.npy": (b"\x00" * 4096, zipfile.ZIP_DEFLATED)})
    _patch_member(path, "extra.npy", file_size=3 * 2 ** 30)
    generate("declared 3 GiB member", path, 3, "extra", "over the limit")
    header = io.BytesIO()
    np.lib.format.write_array(header, np.zeros(2 ** 20, np.float32))
    path = _npz(bad / "extra.npz", arrays, extra={"extra.npy": (header.getvalue(), zipfile.ZIP_DEFLATED)})
    _patch_member(path, "extra.npy", crc=0)  # reading its data would fail with "Bad CRC"
    generate("unexpected member", path, 3, "unexpected keys [extra]")
    path = _npz(bad / "wrong_shape.npz", {**arrays, "l1/W": np.zeros(4, np.float32)})
    generate("shape mismatch", path, 3, "l1/W")
    # not regular files, not zip files
    os.mkfifo(tmp_path / "fifo.npz")
    os.mkfifo(tmp_path / "fifo.json")
    os.mkfifo(tmp_path / "fifo.png")
    generate("model FIFO", tmp_path / "fifo.npz", 3, "not a regular file")
    generate("model /dev/zero", "/dev/zero", 3, "not a regular file")
    # hashes.json with entries that are not objects
    home = tmp_path / "home"
    (home / "dogcat256").mkdir()
    (home / "dogcat256" / "generator.npz").write_bytes(open(src, "rb").read())
    (home / "hashes.json").write_text(json.dumps({"dogcat256": [1, 2]}))
    generate("hashes.json list entry", "dogcat256", 3, "hashes.json", "damaged")

    # recipes
    recipe = files["recipe"]

    def replay(name, content, code, *fragments, model=True, raw=None):
        path = tmp_path / f"recipe{len(cases)}.json"
        path.write_text(raw if raw is not None else json.dumps(content))
        case(name, ["replay", path, "--base", photo, "-o", tmp_path / "out.png"]
             + (["--model", src] if model else []), code, *fragments)

    def edited(change):
        r = json.loads(json.dumps(recipe))
        change(r)
        return r

    replay("recipe naming a path", recipe, 2, "not a registered model", model=False)
    for name, target in [("recipe naming /etc/shadow", "/etc/shadow"), ("recipe naming a missing path",
                                                                          "/nonexistent/x.npz"),
                         ("recipe naming ../..", "../../generator.npz"), ("recipe naming ~", "~/.bashrc")]:
        replay(name, edited(lambda r, t=target: r["model"].update(name=t)), 2,
               "not a registered model", "--model", model=False)
    replay("recipe model name int", edited(lambda r: r["model"].update(name=5)), 2, "model.name")
    replay("recipe model name list", edited(lambda r: r["model"].update(name=["builtin"])), 2, "model.name")
    replay("recipe sha256 int", edited(lambda r: r["model"].update(generator_sha256=5)), 2,
           "generator_sha256")
    replay("recipe without mask", edited(lambda r: r.pop("mask")), 2, "no mask")
    big_z = json.dumps(edited(lambda r: r["z"].__setitem__(0, "BIG"))).replace('"BIG"', "1" + "0" * 400)
    replay("recipe z 10**400", None, 2, "z[0]", raw=big_z)
    replay("recipe 100k nesting", None, 2, "deep", raw="[" * 100_000 + "]" * 100_000)
    replay("recipe dilate 100000", edited(lambda r: r["edit"].update(dilate=100000)), 2, "edit.dilate")
    replay("recipe feather 1e9", edited(lambda r: r["edit"].update(feather=1e9)), 2, "edit.feather")
    replay("recipe colour reach 1e300", edited(lambda r: r["edit"].update(colour_reach=1e300)), 2,
           "edit.colour_reach")
    replay("recipe dilate NaN", None, 2, "NaN", raw=json.dumps(edited(lambda r: r["edit"].update(dilate=float("nan")))))
    h, w = recipe["photo"]["height"], recipe["photo"]["width"]
    bomb = zlib.compress(b"\x00" * (64 * 2 ** 20), 9)
    replay("recipe f32 mask bomb", edited(lambda r: r["mask"].update(
        encoding="f32-zlib", data=__import__("base64").b64encode(bomb).decode())), 2, "mask")
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)) \
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 60001 * 64)) + _chunk(b"IEND", b"")
    replay("recipe PNG mask bomb", edited(lambda r: r["mask"].update(
        encoding="png8", data=__import__("base64").b64encode(png).decode())), 2, "mask", "60000x60000")
    replay("recipe huge photo", edited(lambda r: r["photo"].update(height=10 ** 6, width=10 ** 6)), 2,
           "photo")
    case("replay /dev/zero", ["replay", "/dev/zero", "--base", photo, "-o", tmp_path / "out.png"], 2,
         "not a regular file")
    case("replay FIFO", ["replay", tmp_path / "fifo.json", "--base", photo, "-o", tmp_path / "out.png"], 2,
         "not a regular file")
    case("replay directory", ["replay", tmp_path, "--base", photo, "-o", tmp_path / "out.png"], 2,
         "is a directory")
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(64 * 2 ** 20)
    case("replay oversized recipe", ["replay", big, "--base", photo, "-o", tmp_path / "out.png"], 2,
         "over the limit")
    (tmp_path / "valid.json").write_text(json.dumps(recipe))
    case("photo FIFO", ["replay", tmp_path / "valid.json", "--base", tmp_path / "fifo.png", "--model", src,
                        "-o", tmp_path / "out.png"], 2, "not a regular file")

    results, peak = _run_cases(tmp_path, cases)
    os.unlink(tmp_path / "warm.png")
    report = {name: (r["code"], round(r["seconds"], 3)) for name, r in results.items()}
    print(f"peak RSS {peak / 2 ** 20:.0f} MB; cases: {report}")
    problems = []
    for name, (code, fragments) in expect.items():
        if name == "warm-up":
            assert results[name]["code"] == 0, results[name]
            continue
        try:
            _assert_refused(results[name], code, *fragments)
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
    assert not problems, "\n".join(problems)
    assert peak < PEAK_RSS, f"peak resident memory {peak / 2 ** 20:.0f} MB"
    _assert_no_leftovers(tmp_path)


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_recipe_path_refusal_does_not_reveal_whether_the_file_exists(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    messages = []
    for target in ("/etc/passwd", "/nonexistent/passwd"):
        recipe = dict(files["recipe"], model=dict(files["recipe"]["model"], name=target))
        path = tmp_path / "r.json"
        path.write_text(json.dumps(recipe))
        code = cli.main(["replay", str(path), "--base", files["photo"], "-o", "out.png"])
        err = capsys.readouterr().err
        assert code == 2 and not os.path.exists("out.png")
        messages.append(err.replace(target, "PATH"))
    assert messages[0] == messages[1]


def test_a_registered_recipe_model_is_checked_by_sha256(tmp_path, files, capsys, monkeypatch):
    """A recipe naming a registered model loads it from the registry and checks its generator's sha256."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "pretrained"
    (root / "builtin64").mkdir(parents=True)
    for name in ("generator.npz", "discriminator.npz"):
        (root / "builtin64" / name).write_bytes(open(os.path.join(os.path.dirname(files["model"]), name),
                                                     "rb").read())
    (root / "manifest.json").write_text(json.dumps({"labels": ["cat", "dog", "fox", "owl"]}))
    monkeypatch.setenv("NEURALCOLLAGE_PRETRAINED", str(root))
    monkeypatch.setenv("NEURALCOLLAGE_HOME", str(tmp_path / "home"))
    recipe = dict(files["recipe"], model=dict(files["recipe"]["model"], name="builtin"))
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    assert cli.main(["replay", "r.json", "--base", files["photo"], "-o", "again.png"]) == 0, capsys.readouterr()
    assert np.array_equal(np.asarray(Image.open("again.png")), np.asarray(Image.open(files["edited"])))
    recipe["model"]["generator_sha256"] = "0" * 64
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    assert cli.main(["replay", "r.json", "--base", files["photo"], "-o", "x.png"]) == 3
    assert "sha256" in capsys.readouterr().err and not os.path.exists("x.png")


def test_float16_and_float64_weights_load_as_float32(tmp_path, files):
    for dtype in (np.float16, np.float64):
        arrays = _arrays(files["model"])
        arrays = {k: (v.astype(dtype) if v.dtype == np.float32 else v) for k, v in arrays.items()}
        gen = nc.load_generator(_npz(tmp_path / f"g_{dtype.__name__}.npz", arrays))
        assert gen.l1.W.dtype == np.float32


def test_non_finite_outputs_name_the_model_file(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    arrays = _arrays(files["model"])
    arrays["l1/W"] = np.full_like(arrays["l1/W"], 3e38)
    path = _npz(tmp_path / "overflow.npz", arrays)
    code = cli.main(["generate", "--model", path, "--label", "0", "-q", "-o", "out.png"])
    err = capsys.readouterr().err
    assert code == 3 and "overflow.npz" in err and "NaN or infinite" in err and not os.path.exists("out.png")


# ------------------------------------------------------------------------------------------------ options

@pytest.mark.parametrize("argv, fragment", [
    (["--dilate", "100000"], "--dilate"), (["--dilate", "nan"], "--dilate"), (["--dilate", "1e400"], "--dilate"),
    (["--colour-reach", "1e300"], "--colour-reach"), (["--colour-reach", "nan"], "--colour-reach"),
    (["--margin", "1e9"], "--margin"), (["--margin", "inf"], "--margin"), (["--context", "nan"], "--context"),
    (["--steps", "10000000"], "--steps"), (["--restarts", "0"], "--restarts"), (["--seed", "-1"], "--seed"),
    (["--seed", str(2 ** 40)], "--seed"), (["--max-pixels", str(10 ** 12)], "--max-pixels"),
    (["--fit-steps", str(10 ** 10)], "--fit-steps"), (["--reconstruction", "pivotal", "--fit-steps", "9000"],
                                                      "fit steps")])
def test_numeric_options_have_ranges(argv, fragment, tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = time.monotonic()
    code = cli.main(["--base", files["photo"], "--mask", files["mask"], "--label", "fox", "--model",
                     files["model"], "-o", "out.png", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and fragment in err and "internal error" not in err, err
    assert time.monotonic() - start < 1 and not os.path.exists("out.png")


@pytest.mark.parametrize("argv", [["train", "gan", "--iterations", str(10 ** 12), "-o", "runs"],
                                  ["train", "gan", "--batch-size", "99999999999", "-o", "runs"]])
def test_integer_options_without_a_range_of_their_own_are_bounded(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "at most 1,000,000,000" in err and not os.path.exists("runs")


def test_a_latent_file_is_checked_on_its_headers_before_it_is_read(tmp_path, files, capsys, monkeypatch):
    import zipfile
    monkeypatch.chdir(tmp_path)
    huge = tmp_path / "huge.npz"
    with zipfile.ZipFile(huge, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("z.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False,
                                                          "shape": (2 ** 21, 16)})
            zero = bytes(2 ** 20)
            for _ in range(128):
                member.write(zero)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, z=np.zeros((20000, 16), np.float32))
    for path, fragment in ((huge, "at most"), (wrong, "1 <= N <= 10000")):
        start = time.monotonic()
        code = cli.main(["generate", "--model", files["model"], "--z", str(path), "--label", "0", "-q",
                         "-o", "out.png"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and fragment in err, err
        assert time.monotonic() - start < 5 and not os.path.exists("out.png")


@pytest.mark.parametrize("option, value", [("dilate", 100000), ("dilate", float("nan")), ("feather", 1e9),
                                           ("colour_reach", 1e300), ("margin", float("inf")), ("steps", -1),
                                           ("seed", -5)])
def test_library_refuses_out_of_range_options_naming_them(option, value, files):
    from neuralcollage.pretrained import load_bundle
    bundle = load_bundle(files["model"])
    photo = np.asarray(Image.open(files["photo"]).convert("RGB"))
    mask = np.asarray(Image.open(files["mask"])) > 0
    with pytest.raises(ValueError, match=option):
        nc.edit_photo(bundle, photo, mask, "fox", source_label="cat", **{option: value})


def test_blend_library_refuses_huge_dilation_and_feather():
    photo = np.zeros((20, 20, 3), np.uint8)
    mask = np.zeros((20, 20), np.float32)
    mask[5:10, 5:10] = 1
    for kwargs, name in (({"dilate": 10 ** 6}, "dilate"), ({"dilate": float("nan")}, "dilate"),
                         ({"mode": "none", "feather": 1e9}, "feather")):
        with pytest.raises(ValueError, match=name):
            nc.poisson_blend(photo, np.zeros((8, 8, 3), np.uint8), mask, (2, 2, 16), **kwargs)


def test_global_options_before_the_command(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["-q", "replay", str(files["root"] / "recipe.json"), "--base", files["photo"], "--model",
                     files["model"], "-o", "again.png"])
    assert code == 0, capsys.readouterr().err
    assert "replayed" in capsys.readouterr().out
    assert cli.main(["--debug", "models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_output_keeps_the_photos_icc_profile(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Image.open(files["edited"]).info.get("icc_profile") == files["icc"]
    code = cli.main(["blend", "--base", files["photo"], "--source", files["photo"], "--mask", files["mask"], "-o",
                     "b.jpg"])
    assert code == 0, capsys.readouterr().err
    assert Image.open("b.jpg").info.get("icc_profile") == files["icc"]


# ------------------------------------------------------------------------------------------------ signals

SIGNAL_CHILD = textwrap.dedent("""
    import os, signal, sys
    from neuralcollage import cli
    fsync = os.fsync
    def fsync_then_signal(fd):  # the signal arrives while the temporary file exists
        fsync(fd)
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    os.fsync = fsync_then_signal
    sys.exit(cli.main(sys.argv[2:]))
""")


@pytest.mark.parametrize("name, status", [("SIGTERM", 143), pytest.param("SIGHUP", 129, marks=pytest.mark.slow),
                                          pytest.param("SIGINT", 130, marks=pytest.mark.slow)])
def test_a_signal_during_a_write_leaves_nothing(name, status, tmp_path, files):
    (tmp_path / "child.py").write_text(SIGNAL_CHILD)
    code, _, err, _ = _spawn(["child.py", name, "blend", "--base", files["photo"], "--source", files["photo"],
                              "--mask", files["mask"], "-o", "out.png"], tmp_path=tmp_path)
    assert code == status, err
    assert err.strip() == "collage: interrupted" + ("" if name == "SIGINT" else f" ({name})"), err
    assert [n for n in os.listdir(tmp_path) if n not in ("child.py",)] == [], os.listdir(tmp_path)


def test_the_library_write_cleans_up_and_dies_of_sigterm(tmp_path):
    script = textwrap.dedent("""
        import os, signal
        from neuralcollage.io import atomic_write_bytes
        def write(fh):
            fh.write(b"partial")
            os.kill(os.getpid(), signal.SIGTERM)
        from neuralcollage import io
        io.atomic_write("out.bin", write)
    """)
    (tmp_path / "child.py").write_text(script)
    code, _, err, _ = _spawn(["child.py"], tmp_path=tmp_path)
    assert code == -signal.SIGTERM, err
    assert os.listdir(tmp_path) == ["child.py"]


@pytest.mark.slow
def test_an_early_ctrl_c_prints_no_traceback(tmp_path):
    """SIGINT soon after the command line starts (while it imports and parses): one line or nothing, never a
    traceback (or, at the instant the interpreter finalises, a silent death of SIGINT).  The child says when the
    interpreter itself is up (what runs before that is Python's own) and
    then does what the ``collage`` console script does (``neuralcollage.__main__:main``)."""
    script = ("import sys; sys.stdout.write('up'); sys.stdout.flush(); "
              "from neuralcollage.__main__ import main; sys.exit(main(['models']))")  # as the console script
    for delay in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5):
        child = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=_env(tmp_path),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout.read(2) == b"up"
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        err = err.decode()
        assert "Traceback" not in err, (delay, err)
        if child.returncode == -signal.SIGINT:
            # the signal came as the interpreter was finalising, after Python restored SIG_DFL: a silent death
            # of SIGINT, as any program gives at that instant
            assert err == "", (delay, err)
        else:
            assert child.returncode in (0, 130), (delay, child.returncode, err)


def test_painting_recipes_are_bounded_like_edit_recipes():
    from neuralcollage import painting
    from neuralcollage.limits import RECIPE_MAX_BYTES
    with pytest.raises(ValueError, match="at most"):
        painting.check_recipe(" " * (RECIPE_MAX_BYTES + 1))
    with pytest.raises(ValueError, match="deeper than"):
        painting.check_recipe("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="deeper than"):
        deep = []
        for _ in range(40):
            deep = [deep]
        painting.check_recipe({"kind": painting.RECIPE_KIND, "deep": deep})

