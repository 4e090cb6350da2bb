"""The photo pipeline's options: defaults, validation, JSON, and one meaning of each value."""
import dataclasses
import json
import math
import subprocess
import sys

import pytest

from neuralcollage import limits
from neuralcollage.options import (BLEND_MODES, SEAMS, UNSET, BlendOptions, EditOptions, Options,
                                   ProjectionOptions)

CLASSES = (BlendOptions, EditOptions, ProjectionOptions)


def test_defaults_are_the_documented_ones():
    assert BlendOptions() == BlendOptions(blend_mode="normal", dilate=8, seam="fixed", colour_reach=2.0)
    assert EditOptions() == EditOptions(margin=0.25, context=0.15, feather=0.0)
    assert ProjectionOptions() == ProjectionOptions(steps=None, restarts=1, seed=0, candidates=3, guess_steps=30)
    assert BLEND_MODES == ("normal", "mixed", "none") and SEAMS == ("fixed", "optimal")


@pytest.mark.parametrize("cls", CLASSES)
def test_every_field_has_a_help_and_a_check(cls):
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen and issubclass(cls, Options)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        assert meta["help"] and "\n" not in meta["help"] and cls.help(f.name) == meta["help"]
        assert (meta["choices"] is None) != (meta["limit"] is None)
        assert meta["limit"] is None or meta["limit"] in limits.OPTION_RANGES
    with pytest.raises(dataclasses.FrozenInstanceError):
        cls().seed = 1


@pytest.mark.parametrize("cls,name,bad,message", [
    (BlendOptions, "blend_mode", "poisson", "blend_mode must be one of normal, mixed, none"),
    (BlendOptions, "dilate", -1, r"dilate must be an integer in \[0, 512\]"),
    (BlendOptions, "dilate", 2.5, "dilate must be an integer"),
    (BlendOptions, "dilate", True, "dilate must be"),
    (BlendOptions, "seam", "best", "seam must be one of fixed, optimal"),
    (BlendOptions, "colour_reach", 0, "colour_reach must be"),
    (BlendOptions, "colour_reach", float("nan"), "colour_reach must be"),
    (BlendOptions, "colour_reach", "far", "colour_reach must be"),
    (EditOptions, "context", 1.5, r"context must be a finite number in \[0, 1\]"),
    (EditOptions, "margin", -0.1, "margin must be"),
    (EditOptions, "feather", float("inf"), "feather must be"),
    (ProjectionOptions, "steps", -1, "steps must be"),
    (ProjectionOptions, "restarts", 0, "restarts must be"),
    (ProjectionOptions, "seed", 2 ** 32, "seed must be"),
])
def test_out_of_range_values_are_refused_in_one_line(cls, name, bad, message):
    with pytest.raises(ValueError, match=message) as err:
        cls(**{name: bad})
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=message):
        cls.from_json({name: bad})


def test_rules_between_fields():
    with pytest.raises(ValueError, match="optimal seam needs a Poisson blend mode"):
        BlendOptions(blend_mode="none", seam="optimal")
    assert BlendOptions(blend_mode="mixed", seam="optimal").seam == "optimal"


def test_colour_reach_has_one_meaning():
    """A number of pixels, or inf for classic Poisson; None is another spelling of inf, and JSON's null."""
    assert BlendOptions(colour_reach=None) == BlendOptions(colour_reach=math.inf)
    assert BlendOptions(colour_reach=math.inf).classic and not BlendOptions().classic
    assert BlendOptions(blend_mode="mixed").classic
    assert BlendOptions(colour_reach=None).to_json()["colour_reach"] is None
    assert BlendOptions.from_json({"colour_reach": None}).colour_reach == math.inf
    assert BlendOptions(colour_reach=3).colour_reach == 3.0


def test_numbers_are_normalised():
    import numpy
    options = BlendOptions(dilate=numpy.int64(6), colour_reach=numpy.float32(2.5))
    assert type(options.dilate) is int and type(options.colour_reach) is float
    assert EditOptions(context=0).context == 0.0 and type(EditOptions(context=0).context) is float


@pytest.mark.parametrize("options", [BlendOptions(), BlendOptions(blend_mode="mixed", dilate=0, seam="optimal"),
                                     BlendOptions(colour_reach=math.inf), EditOptions(margin=1.0, feather=2.5),
                                     ProjectionOptions(steps=12, seed=7), ProjectionOptions()])
def test_json_round_trip(options):
    text = json.dumps(options.to_json(), allow_nan=False)
    assert type(options).from_json(json.loads(text)) == options
    assert type(options).from_json({}) == type(options)()


@pytest.mark.parametrize("data,message", [
    ({"dilate": 8, "mode": "normal"}, "unknown blend options: mode"),
    ({"dilate": "8"}, "dilate must be an integer"),
    ({"dilate": 8.0}, "dilate must be an integer"),
    ({"blend_mode": 1}, "blend_mode must be a string"),
    ({"seam": None}, "seam must not be null"),
    ({"colour_reach": True}, "colour_reach must be"),
    ([], "must be a JSON object"),
])
def test_json_is_strict(data, message):
    with pytest.raises(ValueError, match=message):
        BlendOptions.from_json(data)


def test_recipe_form_keeps_old_recipes_meaning():
    """The compact (recipe) form leaves out what an older recipe lacked; reading a recipe's entry fills a missing
    option with the value it had before it existed, not with today's default."""
    assert BlendOptions().to_json(compact=True) == {"blend_mode": "normal", "dilate": 8, "colour_reach": 2.0}
    assert BlendOptions(colour_reach=math.inf).to_json(compact=True) == {"blend_mode": "normal", "dilate": 8}
    assert "colour_reach" not in BlendOptions(blend_mode="mixed").to_json(compact=True)
    assert EditOptions().to_json(compact=True) == {"context": 0.15, "feather": 0.0}
    assert EditOptions(context=0.0).to_json(compact=True) == {"context": 0.0, "feather": 0.0}
    old = {"method": "scbn", "blend_mode": "normal", "dilate": 8, "feather": 0.0}
    assert BlendOptions.from_json(old, legacy=True) == BlendOptions(colour_reach=math.inf)
    assert EditOptions.from_json(old, legacy=True) == EditOptions(context=0.0)
    with pytest.raises(ValueError, match="recipe edit.dilate is missing"):
        BlendOptions.from_json({"blend_mode": "normal"}, legacy=True, where="recipe edit.")
    with pytest.raises(ValueError, match=r"recipe edit.dilate must be an integer in \[0, 512\], got 100000"):
        BlendOptions.from_json(dict(old, dilate=100000), legacy=True, where="recipe edit.")


def test_build_and_replace():
    base = BlendOptions(dilate=4)
    assert BlendOptions.build() == BlendOptions()
    assert BlendOptions.build(base, dilate=UNSET, seam="optimal") == BlendOptions(dilate=4, seam="optimal")
    assert base.replace(colour_reach=None).colour_reach == math.inf and base.dilate == 4
    with pytest.raises(ValueError, match="unknown blend options: mode"):
        BlendOptions.build(mode="normal")
    with pytest.raises(ValueError, match="expected a neuralcollage.options.BlendOptions"):
        BlendOptions.build(EditOptions())
    assert not UNSET and repr(UNSET) == "UNSET"


def test_the_module_imports_nothing_heavy():
    code = ("import sys, neuralcollage.options; "
            "print(sorted(m for m in ('numpy', 'chainer', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
