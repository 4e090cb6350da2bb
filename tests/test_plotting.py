import io
import types

import numpy
import pytest
from matplotlib.figure import Figure

from neuralcollage import maps, plotting


def png_size(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return len(buffer.getvalue())


def test_label_colors_are_distinct():
    for n in (1, 6, 10, 143):
        colors = plotting.label_colors(n)
        assert colors.shape == (n, 3) and colors.dtype == numpy.float32
        assert (colors >= 0).all() and (colors <= 1).all()
        assert len({tuple(numpy.round(c, 3)) for c in colors}) == n


def test_colorize_map_mixes_colours():
    m = numpy.zeros((1, 3, 2, 2), numpy.float32)
    m[0, 0, 0] = 1
    m[0, 1, 1] = 0.5
    m[0, 2, 1] = 0.5
    colors = numpy.eye(3, dtype=numpy.float32)
    rgb = plotting.colorize_map(m, colors)
    assert rgb.dtype == numpy.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[0, 0].tolist() == [255, 0, 0] and rgb[1, 0].tolist() == [0, 128, 128]
    with pytest.raises(ValueError, match="class map"):
        plotting.colorize_map(numpy.zeros((4, 4)))


def test_overlay_map():
    image = numpy.full((2, 2, 3), 100, numpy.uint8)
    rgb = numpy.full((2, 2, 3), 200, numpy.uint8)
    out = plotting.overlay_map(image, rgb, numpy.array([[0, 1], [0.5, 0]], numpy.float32))
    assert out[:, :, 0].tolist() == [[100, 200], [150, 100]]


def test_grids_and_layer_maps_draw():
    img = numpy.zeros((8, 8, 3), numpy.uint8)
    fig = plotting.image_grid({"a": img, "b": img, "c": img}, columns=2, suptitle="grid")
    assert isinstance(fig, Figure) and len(fig.axes) == 4 and png_size(fig) > 0
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    fig = plotting.before_after(img, img, extra={"mask": img})
    assert [ax.get_title() for ax in fig.axes] == ["before", "after", "mask"]
    with pytest.raises(ValueError):
        plotting.image_grid([])
    cm = maps.one_hot_map(2, 4, 16)
    per_layer = maps.layer_maps(cm, [4, 8, 8, 16], layers="2-", base=1)
    fig = plotting.plot_layer_maps(per_layer, class_names=["a", "b", "c", "d"], selected=[2, 3])
    assert len(fig.axes) == 4 and fig.axes[2].get_title().startswith("layer 2")
    assert [t.get_text() for t in fig.axes[-1].get_legend().get_texts()] == ["b", "c"]
    assert png_size(fig) > 0


def test_projection_losses_from_a_result():
    result = types.SimpleNamespace(losses=[3.0, 2.0, 1.5], all_losses=[[4.0, 3.5, 3.0], [3.0, 2.0, 1.5]])
    fig = plotting.plot_projection_losses(result)
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    assert ax.lines[-1].get_ydata().tolist() == [3.0, 2.0, 1.5]
    assert "best 1.5" in [t.get_text() for t in ax.get_legend().get_texts()]
    fig2 = Figure()
    ax2 = fig2.subplots()
    assert plotting.plot_projection_losses([1.0, 0.5], ax=ax2) is fig2
