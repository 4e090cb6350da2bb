import hashlib
import os
import struct
import zlib

import cv2
import numpy
import pytest
from PIL import Image

from neuralcollage import io
from neuralcollage.io import (InputError, MaskResizedWarning, as_mask, atomic_save_npz,
                              atomic_write_bytes, atomic_write_text, fit_mask, from_model,
                              read_image, read_mask, to_model, write_image)


def rgb_array(h=12, w=17, seed=0):
    return numpy.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(numpy.uint8)


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def leftovers(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


# --------------------------------------------------------------------------- read_image: modes

def test_rgb_png_exact(tmp_path):
    a = rgb_array()
    Image.fromarray(a).save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.dtype == numpy.uint8 and out.shape == a.shape and out.flags.c_contiguous
    numpy.testing.assert_array_equal(out, a)


def test_rgba_composited_on_white(tmp_path):
    rgba = numpy.zeros((2, 3, 4), numpy.uint8)
    rgba[..., :3] = (10, 200, 30)
    rgba[0, :, 3] = (0, 255, 128)
    rgba[1, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.shape == (2, 3, 3)
    numpy.testing.assert_array_equal(out[0, 0], (255, 255, 255))
    numpy.testing.assert_array_equal(out[0, 1], (10, 200, 30))
    expected = numpy.rint((numpy.array([10, 200, 30]) * 128 + 255 * 127) / 255)
    numpy.testing.assert_allclose(out[0, 2], expected, atol=1)
    numpy.testing.assert_array_equal(out[1], numpy.broadcast_to((10, 200, 30), (3, 3)))


def test_la_composited_on_white(tmp_path):
    la = numpy.array([[[40, 0], [40, 255]]], numpy.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    numpy.testing.assert_array_equal(out, [[[255] * 3, [40] * 3]])


@pytest.mark.parametrize("mode", ["L", "1"])
def test_greyscale_repeated_into_rgb(tmp_path, mode):
    grey = numpy.random.RandomState(1).randint(0, 256, (9, 11)).astype(numpy.uint8)
    img = Image.fromarray(grey).convert(mode)
    img.save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    expected = numpy.asarray(img.convert("L"))
    assert out.shape == (9, 11, 3)
    for c in range(3):
        numpy.testing.assert_array_equal(out[..., c], expected)
    if mode == "1":
        assert set(numpy.unique(out)) <= {0, 255}


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (4, 3))
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    img.putdata([0, 1, 2, 1] * 3)
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    out = read_image(tmp_path / "p.png")
    numpy.testing.assert_array_equal(out[0, 0], (255, 255, 255))
    numpy.testing.assert_array_equal(out[0, 1], (255, 0, 0))
    numpy.testing.assert_array_equal(out[0, 2], (0, 0, 255))


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path):
    values = numpy.array([[0, 257, 1000, 32767, 65535, 128 * 257]], numpy.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I;16")
    out = read_image(tmp_path / "g16.png")
    expected = numpy.rint(values / 257.0).astype(numpy.uint8)
    numpy.testing.assert_array_equal(out[..., 0], expected)
    numpy.testing.assert_array_equal(out[..., 2], expected)


def test_16bit_colour_png_is_scaled(tmp_path):
    rgb16 = numpy.random.RandomState(2).randint(0, 65536, (7, 5, 3)).astype(numpy.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])
    out = read_image(tmp_path / "c16.png")
    assert numpy.abs(out.astype(int) - rgb16 / 257.0).max() <= 1.0


def test_int32_and_float_tiffs(tmp_path):
    ints = numpy.array([[0, 1000, 65535, 70000]], numpy.int32)
    Image.fromarray(ints).save(tmp_path / "i.tif")
    out = read_image(tmp_path / "i.tif")
    numpy.testing.assert_array_equal(out[0, :, 0], [0, 4, 255, 255])
    floats = numpy.array([[0.0, 0.5, 1.0]], numpy.float32)
    Image.fromarray(floats).save(tmp_path / "f.tif")
    numpy.testing.assert_array_equal(read_image(tmp_path / "f.tif")[0, :, 1], [0, 128, 255])


def test_cmyk_jpeg_converted(tmp_path):
    img = Image.new("CMYK", (16, 8))
    img.paste((0, 0, 0, 0), (0, 0, 8, 8))          # white
    img.paste((0, 255, 255, 0), (8, 0, 16, 8))     # red
    img.save(tmp_path / "c.jpg", quality=95)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (8, 16, 3)
    numpy.testing.assert_allclose(out[4, 2], (255, 255, 255), atol=6)
    numpy.testing.assert_allclose(out[4, 13], (255, 0, 0), atol=6)


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))         # left half red
    exif = img.getexif()
    exif[0x0112] = 6                               # display = stored rotated 90 degrees clockwise
    img.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    out = read_image(tmp_path / "r.jpg")
    assert out.shape == (40, 20, 3)
    assert out[5, 10, 0] > 200 and out[5, 10, 2] < 60      # top is red
    assert out[35, 10, 2] > 200 and out[35, 10, 0] < 60    # bottom is blue


def test_input_file_not_modified(tmp_path):
    img = Image.new("RGB", (40, 20), (1, 2, 3))
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "r.jpg", exif=exif.tobytes())
    before = digest(tmp_path / "r.jpg")
    read_image(tmp_path / "r.jpg")
    read_mask(tmp_path / "r.jpg")
    assert digest(tmp_path / "r.jpg") == before


# --------------------------------------------------------------------------- read_image: errors

def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.png: no such file"):
        read_image(tmp_path / "nope.png")


def test_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_image(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(InputError, match="not a regular file"):
        read_image(tmp_path / "pipe.png")


def test_not_an_image(tmp_path):
    (tmp_path / "x.png").write_bytes(b"this is not a png at all" * 10)
    with pytest.raises(InputError, match="x.png"):
        read_image(tmp_path / "x.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated(tmp_path, suffix):
    Image.fromarray(rgb_array(64, 64)).save(tmp_path / ("full" + suffix))
    data = (tmp_path / ("full" + suffix)).read_bytes()
    (tmp_path / ("cut" + suffix)).write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="cut" + suffix) as info:
        read_image(tmp_path / ("cut" + suffix))
    assert "\n" not in str(info.value)


def test_corrupt_data_in_valid_header(tmp_path):
    def chunk(kind, data):
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"garbage!" * 4)
           + chunk(b"IEND", b""))
    (tmp_path / "bad.png").write_bytes(png)
    with pytest.raises(InputError, match="bad.png"):
        read_image(tmp_path / "bad.png")


def test_zero_size_header(tmp_path):
    (tmp_path / "z.ppm").write_bytes(b"P6 0 5 255\n")
    with pytest.raises(InputError, match="z.ppm"):
        read_image(tmp_path / "z.ppm")


def test_huge_image_refused(tmp_path):
    Image.fromarray(rgb_array(30, 40)).save(tmp_path / "big.png")
    with pytest.raises(InputError, match="too large.*40x30"):
        read_image(tmp_path / "big.png", max_pixels=1000)
    assert read_image(tmp_path / "big.png", max_pixels=1200).shape == (30, 40, 3)


def test_decompression_bomb_becomes_input_error(tmp_path, monkeypatch):
    Image.fromarray(rgb_array(30, 40)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(InputError, match="bomb.png: image is too large"):
        read_image(tmp_path / "bomb.png", max_pixels=None)


def test_input_error_is_value_error():
    assert issubclass(InputError, ValueError)


# --------------------------------------------------------------------------- masks

def test_mask_from_luminance_stays_soft(tmp_path):
    grey = numpy.array([[0, 64, 128, 255]], numpy.uint8)
    Image.fromarray(grey).save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png")
    assert mask.dtype == numpy.float32 and mask.shape == (1, 4)
    numpy.testing.assert_allclose(mask, grey / 255.0, rtol=1e-6)


def test_mask_from_varying_alpha(tmp_path):
    rgba = numpy.zeros((3, 4, 4), numpy.uint8)
    rgba[..., :3] = 255                      # white everywhere: luminance would select all
    rgba[1, 1:3, 3] = 255
    rgba[2, 0, 3] = 51
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png")
    expected = rgba[..., 3] / 255.0
    numpy.testing.assert_allclose(mask, expected, rtol=1e-6)


def test_mask_constant_alpha_uses_luminance(tmp_path):
    rgba = numpy.full((2, 2, 4), 255, numpy.uint8)
    rgba[0, :, :3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    numpy.testing.assert_array_equal(read_mask(tmp_path / "m.png"), [[0, 0], [1, 1]])


def test_mask_from_palette_transparency(tmp_path):
    img = Image.new("P", (3, 1))
    img.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    img.putdata([0, 1, 1])
    img.save(tmp_path / "p.png", transparency=0)
    numpy.testing.assert_array_equal(read_mask(tmp_path / "p.png"), [[0, 1, 1]])


def test_mask_16bit(tmp_path):
    Image.fromarray(numpy.array([[0, 65535, 32768]], numpy.uint16)).save(tmp_path / "m.png")
    numpy.testing.assert_allclose(read_mask(tmp_path / "m.png"), [[0, 1, 32768 / 65535]],
                                  rtol=1e-6)


def test_mask_empty(tmp_path):
    Image.new("L", (5, 5), 0).save(tmp_path / "m.png")
    with pytest.raises(InputError, match="mask .*m.png is empty"):
        read_mask(tmp_path / "m.png")


def test_mask_nan_tiff(tmp_path):
    Image.fromarray(numpy.array([[0.5, numpy.nan]], numpy.float32)).save(tmp_path / "m.tif")
    with pytest.raises(InputError, match="NaN"):
        read_mask(tmp_path / "m.tif")


def test_mask_resized_with_same_aspect(tmp_path):
    mask = numpy.zeros((10, 20), numpy.uint8)
    mask[2:8, 5:15] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    with pytest.warns(MaskResizedWarning, match="m.png resized from 20x10"):
        out = read_mask(tmp_path / "m.png", size=(40, 80))
    assert out.shape == (40, 80) and out.dtype == numpy.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out[20, 40] == 1.0 and out[0, 0] == 0.0


def test_mask_other_aspect_refused(tmp_path):
    Image.new("L", (20, 10), 255).save(tmp_path / "m.png")
    with pytest.raises(InputError, match=r"20x10.*30x10"):
        read_mask(tmp_path / "m.png", size=(10, 30))


def test_fit_mask():
    mask = numpy.zeros((100, 201), numpy.float32)
    mask[40:60, 90:110] = 1
    same, note = fit_mask(mask, (100, 201))
    assert note is None and same is not mask
    numpy.testing.assert_array_equal(same, mask)
    small, note = fit_mask(mask, (50, 100))           # 201/100 vs 100/50: within 1 %
    assert small.shape == (50, 100) and "resized" in note
    assert small.sum() == pytest.approx(mask.sum() / 4, rel=0.05)
    with pytest.raises(InputError, match="aspect"):
        fit_mask(mask, (100, 100))


def test_as_mask_validation():
    numpy.testing.assert_array_equal(as_mask(numpy.array([[True, False]])), [[1, 0]])
    numpy.testing.assert_allclose(as_mask(numpy.array([[255, 51]], numpy.uint8)), [[1, 0.2]])
    with pytest.raises(InputError, match="NaN"):
        as_mask(numpy.array([[0.5, numpy.nan]]))
    with pytest.raises(InputError, match="expected"):
        as_mask(numpy.array([[0.5, 1.5]]))
    with pytest.raises(InputError, match="empty"):
        as_mask(numpy.zeros((3, 3)))
    with pytest.raises(InputError, match="2-D"):
        as_mask(numpy.ones((3, 3, 1)))
    numpy.testing.assert_array_equal(as_mask(numpy.array([[0, 1]], numpy.int64)), [[0, 1]])
    with pytest.raises(InputError, match="only 0 and 1"):
        as_mask(numpy.array([[0, 2]], numpy.int64))
    with pytest.raises(InputError, match="mask m.png is empty"):
        as_mask(numpy.zeros((2, 2), numpy.uint8), name="m.png")
    source = numpy.array([[0.25, 1.0]], numpy.float64)
    out = as_mask(source)
    assert out.dtype == numpy.float32 and not numpy.shares_memory(out, source)


# --------------------------------------------------------------------------- writing

@pytest.mark.parametrize("suffix", [".png", ".PNG", ".bmp", ".tif", ".tiff"])
def test_write_lossless_round_trip(tmp_path, suffix):
    a = rgb_array(13, 21)
    write_image(tmp_path / ("o" + suffix), a)
    numpy.testing.assert_array_equal(read_image(tmp_path / ("o" + suffix)), a)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".webp"])
def test_write_lossy_round_trip(tmp_path, suffix):
    a = numpy.full((16, 16, 3), (200, 100, 50), numpy.uint8)
    write_image(tmp_path / ("o" + suffix), a)
    numpy.testing.assert_allclose(read_image(tmp_path / ("o" + suffix)), a, atol=4)


def test_write_grey_and_rgba(tmp_path):
    grey = rgb_array()[..., 0]
    write_image(tmp_path / "g.png", grey)
    numpy.testing.assert_array_equal(read_image(tmp_path / "g.png")[..., 1], grey)
    rgba = numpy.zeros((4, 4, 4), numpy.uint8)
    write_image(tmp_path / "t.jpg", rgba)            # composited on white for JPEG
    assert read_image(tmp_path / "t.jpg").min() > 240


def test_write_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="unknown image format '.gif'"):
        write_image(tmp_path / "o.gif", rgb_array())
    with pytest.raises(InputError, match="no suffix"):
        write_image(tmp_path / "o", rgb_array())
    assert os.listdir(tmp_path) == []


def test_write_missing_directory(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_image(tmp_path / "no" / "o.png", rgb_array())
    assert os.listdir(tmp_path) == []


def test_write_onto_directory(tmp_path):
    (tmp_path / "d.png").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        write_image(tmp_path / "d.png", rgb_array())


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_write_unwritable_directory_chmod(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(InputError, match="cannot write"):
            write_image(locked / "o.png", rgb_array())
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def test_write_unwritable_directory(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(io.os, "open", refuse)
    with pytest.raises(InputError, match="cannot write .*o.png: Permission denied") as info:
        write_image(tmp_path / "o.png", rgb_array())
    assert "\n" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_failed_replace_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "o.png"
    old = rgb_array(seed=3)
    write_image(target, old)

    def broken(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(io.os, "replace", broken)
    with pytest.raises(InputError, match="No space left"):
        write_image(target, rgb_array(seed=4))
    monkeypatch.undo()
    numpy.testing.assert_array_equal(read_image(target), old)
    assert leftovers(tmp_path) == []


def test_interrupted_write_leaves_no_temp(tmp_path, monkeypatch):
    class Boom(RuntimeError):
        pass

    def exploding_savez(fh, **arrays):
        fh.write(b"PK partial")
        raise Boom("stop")
    monkeypatch.setattr(io.numpy, "savez", exploding_savez)
    with pytest.raises(Boom):
        atomic_save_npz(tmp_path / "z.npz", a=numpy.ones(3))
    assert os.listdir(tmp_path) == []


def test_npz_refuses_object_arrays(tmp_path):
    with pytest.raises(ValueError, match="pickled"):
        atomic_save_npz(tmp_path / "z.npz", a=numpy.array([{"x": 1}], dtype=object))
    assert os.listdir(tmp_path) == []


def test_refuse_to_overwrite_input(tmp_path):
    src = tmp_path / "in.png"
    write_image(src, rgb_array())
    before = digest(src)
    with pytest.raises(InputError, match="refusing to overwrite input file"):
        write_image(src, rgb_array(seed=5), overwrite_protect=[src])
    os.link(src, tmp_path / "hard.png")
    os.symlink(src, tmp_path / "soft.png")
    for alias in ("hard.png", "soft.png"):
        with pytest.raises(InputError, match="refusing to overwrite"):
            write_image(tmp_path / alias, rgb_array(seed=5), overwrite_protect=[str(src)])
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match="refusing"):
        atomic_write_text(tmp_path / "sub" / ".." / "in.png", "x", overwrite_protect=[src])
    assert digest(src) == before
    write_image(tmp_path / "out.png", rgb_array(), overwrite_protect=[src, tmp_path / "missing"])
    assert leftovers(tmp_path) == []


def test_overwrite_keeps_permissions(tmp_path):
    target = tmp_path / "o.png"
    write_image(target, rgb_array())
    target.chmod(0o640)
    write_image(target, rgb_array(seed=9))
    assert (target.stat().st_mode & 0o777) == 0o640


def test_new_file_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_image(tmp_path / "o.png", rgb_array())
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "o.png").st_mode & 0o777) == 0o644


def test_atomic_bytes_text_npz(tmp_path):
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    atomic_write_text(tmp_path / "r.json", '{"ü": 1}')
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == '{"ü": 1}'
    atomic_write_text(tmp_path / "r.json", "second")
    assert (tmp_path / "r.json").read_text() == "second"
    arrays = {"l1/W": numpy.arange(6.0).reshape(2, 3), "block2/b1/N": numpy.array(3),
              "path": numpy.zeros(2)}
    atomic_save_npz(tmp_path / "snap", **arrays)
    assert os.listdir(tmp_path) != [] and (tmp_path / "snap").exists()
    with numpy.load(tmp_path / "snap") as loaded:
        assert sorted(loaded.files) == sorted(arrays)
        numpy.testing.assert_array_equal(loaded["l1/W"], arrays["l1/W"])
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- model layout

def test_model_round_trip_exact_on_uint8_grid():
    values = numpy.arange(256, dtype=numpy.uint8)
    images = numpy.stack([values.reshape(16, 16)] * 3, axis=-1)
    x = to_model(images)
    assert x.shape == (1, 3, 16, 16) and x.dtype == numpy.float32
    assert x.min() == -1.0 and x.max() == 1.0
    numpy.testing.assert_array_equal(from_model(x)[0], images)


def test_to_model_batch_layout():
    batch = numpy.stack([rgb_array(5, 7, seed=s) for s in range(2)])
    x = to_model(batch)
    assert x.shape == (2, 3, 5, 7)
    numpy.testing.assert_allclose(x[1, 2, 3, 4], batch[1, 3, 4, 2] / 127.5 - 1, rtol=1e-6)
    back = from_model(x)
    assert back.shape == batch.shape and back.dtype == numpy.uint8
    numpy.testing.assert_array_equal(back, batch)


def test_from_model_rounds_and_clips():
    x = numpy.array([-3.0, -1.0, 0.0, 1.0, 5.0, numpy.inf, -numpy.inf], numpy.float32)
    out = from_model(x.reshape(1, 1, 1, -1))
    numpy.testing.assert_array_equal(out[0, 0, :, 0], [0, 0, 128, 255, 255, 255, 0])
    x64 = numpy.full((1, 3, 2, 2), 0.5, numpy.float64)
    assert from_model(x64).dtype == numpy.uint8


def test_from_model_nan():
    x = numpy.zeros((1, 3, 2, 2), numpy.float32)
    x[0, 1, 1, 1] = numpy.nan
    with pytest.raises(ValueError, match="model output contains NaN"):
        from_model(x)


def test_layout_errors():
    with pytest.raises(ValueError, match="uint8"):
        to_model(numpy.zeros((4, 4, 3), numpy.float32))
    with pytest.raises(ValueError, match="N, C, H, W"):
        from_model(numpy.zeros((3, 4, 4), numpy.float32))


def test_atomic_write_json(tmp_path):
    import json
    from neuralcollage.io import atomic_write_json
    path = tmp_path / "r.json"
    atomic_write_json(path, {"a": [1, 2.5]})
    assert path.read_text().endswith("}\n") and json.loads(path.read_text()) == {"a": [1, 2.5]}
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"a": float("nan")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    atomic_write_json(tmp_path / "nan.json", {"a": float("nan")}, allow_nan=True)
    assert "NaN" in (tmp_path / "nan.json").read_text()
