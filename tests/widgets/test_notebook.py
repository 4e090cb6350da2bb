"""neuralcollage.widgets.notebook: the model a notebook uses and its scripted-strokes switch (no widgets)."""
import warnings

import numpy
import pytest

from neuralcollage import maps, painting, widgets


def test_notebook_bundle_choice(monkeypatch):
    assert widgets.notebook_bundle(environ={"NEURALCOLLAGE_NOTEBOOK_MODEL": "tiny"}).name == "tiny-random"
    import neuralcollage.pretrained as pretrained

    def missing(name, **kwargs):
        raise pretrained.ModelNotInstalledError("the built-in model is not trained yet")
    monkeypatch.setattr(pretrained, "load_bundle", missing)
    with pytest.warns(UserWarning, match="tiny RANDOM model"):
        assert widgets.notebook_bundle(environ={}).name == "tiny-random"
    with pytest.raises(pretrained.ModelNotInstalledError):
        widgets.notebook_bundle(environ={"NEURALCOLLAGE_NOTEBOOK_MODEL": "dogcat256"})


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("", False), ("0", False)])
def test_scripted_flag(value, expected):
    assert widgets.scripted({"NEURALCOLLAGE_SCRIPTED": value}) is expected


def test_tiny_bundle_is_deterministic_and_classes_matter():
    a, b = widgets.tiny_bundle(seed=1), widgets.tiny_bundle(seed=1)
    z = a.generator.sample_z(1, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        img_a = painting.render_painting(a.generator, z=z, base_class=0)
    assert numpy.array_equal(img_a, painting.render_painting(b.generator, z=z, base_class=0))
    assert not numpy.array_equal(img_a, painting.render_painting(a.generator, z=z, base_class=1))
    assert maps.parse_layers("all", a.generator.n_class_layers) == tuple(range(6))
