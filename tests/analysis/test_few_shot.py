"""neuralcollage.analysis.few_shot.evaluate_few_shot and `collage eval --metrics few_shot` (tiny settings; the measured
numbers are in docs/few_shot.md)."""
import json
import os

import numpy as np
import pytest

from neuralcollage.analysis import few_shot
from neuralcollage.classes import DEFAULTS
from neuralcollage.io import InputError
from neuralcollage.pretrained import load_bundle


@pytest.fixture(scope="module")
def builtin():
    return load_bundle("builtin")


@pytest.fixture(scope="module")
def judge():
    return few_shot.load_judge()


#: Small evaluations, without the close-up variant (and its check of 30 part edits) the default adds.
TINY = dict(steps=1, n=8, n_diversity=4, n_old=3, init_class="nearest", seed=0, closeup_variant=0)


def test_packs_per_species_and_count_with_targets_and_old_classes(builtin, judge, tmp_path):
    result = few_shot.evaluate_few_shot(builtin, species=["tiger", "koala"], counts=[3, 5], judge=judge,
                                        pack_dir=str(tmp_path), **TINY)
    rows = result["packs"]
    assert [(r["species"], r["n_images"]) for r in rows] == [("tiger", 3), ("tiger", 5), ("koala", 3), ("koala", 5)]
    for r in rows:
        assert r["judged"] == pytest.approx(r["judged_as"].get(r["species"], 0.0))
        assert sum(r["judged_as"].values()) == pytest.approx(1.0, abs=1e-3)
        assert r["steps"] == 1 and os.path.isfile(r["pack"]) and r["pack_bytes"] == os.path.getsize(r["pack"])
        assert r["old_classes_identical"] is True and r["old_class_judged"] == result["old_classes"]["judged_base"]
        assert r["init_class"] in builtin.vocabulary.names
    assert [r["target_judged"] for r in rows] == [None, 0.75, None, 0.75]
    assert [r["passed"] for r in rows] == [None, rows[1]["judged"] >= 0.75, None, rows[3]["judged"] >= 0.75]
    assert result["headline_images"] == 5 and result["value"] == min(rows[1]["judged"], rows[3]["judged"])
    assert result["old_classes"]["unchanged"] is True and result["old_classes"]["judged_base"] == 1.0
    json.dumps(result, allow_nan=False)


@pytest.mark.slow
def test_saved_packs_are_reused_only_for_the_same_training(builtin, judge, tmp_path):
    first = few_shot.evaluate_few_shot(builtin, species=["tiger"], counts=[3], judge=judge, pack_dir=str(tmp_path),
                                       **TINY)["packs"][0]
    stamp = os.stat(first["pack"]).st_mtime_ns
    again = few_shot.evaluate_few_shot(builtin, species=["tiger"], counts=[3], judge=judge, pack_dir=str(tmp_path),
                                       **TINY)["packs"][0]
    assert os.stat(again["pack"]).st_mtime_ns == stamp and again["train_seconds"] == first["train_seconds"]
    assert again["judged"] == first["judged"]
    other = few_shot.evaluate_few_shot(builtin, species=["tiger"], counts=[3], judge=judge, pack_dir=str(tmp_path),
                                       **{**TINY, "seed": 1})["packs"][0]
    assert other["pack"] != first["pack"]
    longer = few_shot.evaluate_few_shot(builtin, species=["tiger"], counts=[3], judge=judge, pack_dir=str(tmp_path),
                                        **{**TINY, "steps": 2})["packs"][0]
    assert longer["steps"] == 2
    from neuralcollage.classes import load_pack
    pack = load_pack(first["pack"])
    pack.record["lr_rows"] = 0.01  # a pack trained before the default step size changed
    pack.save(first["pack"])
    stamp = os.stat(first["pack"]).st_mtime_ns
    retrained = few_shot.evaluate_few_shot(builtin, species=["tiger"], counts=[3], judge=judge,
                                           pack_dir=str(tmp_path), **TINY)["packs"][0]
    assert os.stat(retrained["pack"]).st_mtime_ns != stamp
    assert load_pack(retrained["pack"]).record["lr_rows"] == DEFAULTS["lr_rows"]
    variant = few_shot.evaluate_few_shot(builtin, species=["tiger"], counts=[3], judge=judge, pack_dir=str(tmp_path),
                                         closeup_check=False, **{**TINY, "closeup_variant": 1})["packs"][0]
    pack = load_pack(variant["pack"])
    assert pack.closeup["record"]["method"] == DEFAULTS["closeup_method"] == "rows"
    pack.closeup["record"]["method"] = "branch"  # a variant trained before rows became its default
    pack.save(variant["pack"])
    stamp = os.stat(variant["pack"]).st_mtime_ns
    retrained = few_shot.evaluate_few_shot(builtin, species=["tiger"], counts=[3], judge=judge,
                                           pack_dir=str(tmp_path), closeup_check=False,
                                           **{**TINY, "closeup_variant": 1})["packs"][0]
    assert os.stat(retrained["pack"]).st_mtime_ns != stamp
    assert load_pack(retrained["pack"]).closeup["record"]["method"] == "rows"


@pytest.mark.slow
def test_closeup_check_decides_the_variant_once_per_pack_file(builtin, judge, tmp_path, monkeypatch):
    from neuralcollage.classes import load_pack
    from neuralcollage.collage import closeup_check
    monkeypatch.setattr(closeup_check, "CHECK_EDITS", 2)
    calls = []
    real = closeup_check.closeup_variant_check

    def counted(*args, **kwargs):
        calls.append(kwargs["n"])
        return real(*args, **kwargs)

    monkeypatch.setattr(closeup_check, "closeup_variant_check", counted)
    default = {k: v for k, v in TINY.items() if k != "closeup_variant"}
    options = dict(species=["tiger"], counts=[3], judge=judge, pack_dir=str(tmp_path), **default)
    row = few_shot.evaluate_few_shot(builtin, **options)["packs"][0]
    verdict = row["closeup_check"]
    assert "closeupvariant" not in os.path.basename(row["pack"])
    assert calls == [2] and verdict["n"] == 2 and verdict["seed"] == 0
    assert verdict["keep"] == (verdict["difference"] > 0)
    saved = load_pack(row["pack"])
    assert saved.closeup is not None and saved.record["closeup_check"] == verdict
    assert saved.record["closeup_variant"] == 4
    stamp = os.stat(row["pack"]).st_mtime_ns
    again = few_shot.evaluate_few_shot(builtin, **options)["packs"][0]
    assert calls == [2] and again["closeup_check"] == verdict and os.stat(row["pack"]).st_mtime_ns == stamp
    measured = dict(again, part_translation={"value": 0.5, "n": 2, "species": "tiger",
                                             "predicted_counts": {"tiger": 1, "cat": 1}})
    word = "kept" if verdict["keep"] else "dropped"
    assert f"50.0% of 2 (otherwise cat 1; close-up variant {word} ({verdict['difference']:+.2f}))" in \
        few_shot.format_few_shot({"packs": [measured]})
    unchecked = few_shot.evaluate_few_shot(builtin, closeup_check=False, **options)["packs"][0]
    assert "closeup_check" not in unchecked and calls == [2]


@pytest.mark.parametrize("kwargs, words", [
    (dict(species=["cat"]), "already a class"),
    (dict(species=["unicorn"]), "unknown species"),
    (dict(counts=[2]), "at least 3"),
    (dict(species=[]), "at least one species"),
])
def test_bad_settings_are_refused(builtin, judge, kwargs, words):
    with pytest.raises(InputError, match=words):
        few_shot.evaluate_few_shot(builtin, judge=judge, **{**TINY, **kwargs})


@pytest.mark.slow
def test_cli_eval_few_shot_writes_json(tmp_path, capsys):
    from neuralcollage.cli import main
    out = str(tmp_path / "fs.json")
    code = main(["eval", "--metrics", "few_shot", "--few-shot-species", "tiger", "--few-shot-images", "3",
                 "--few-shot-steps", "1", "--few-shot-start-from", "nearest", "--n-samples", "4", "--out-json", out,
                 "--few-shot-translation", "2", "--steps", "1", "--few-shot-closeup-variant", "0"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.load(open(out))
    assert report["few_shot_images"] == [3] and report["few_shot_start_from"] == "nearest"
    pack = report["metrics"]["few_shot"]["packs"][0]
    assert pack["species"] == "tiger" and pack["n_images"] == 3 and pack["pack"] is None
    assert "| tiger | 3 | 1 |" in captured.out and "few_shot" in captured.out
    translation = pack["part_translation"]
    assert translation["into"] == 6 and translation["steps"] == 1
    assert translation["n"] + translation["n_empty_masks"] == 2
    assert report["metrics"]["few_shot"]["part_translation"] == translation["value"]
    assert f"{100 * translation['value']:.1f}% of {translation['n']}" in captured.out
    assert "few_shot tiger 3 images: judged" in captured.err


@pytest.mark.parametrize("argv, words", [
    (["--metrics", "few_shot", "--few-shot-species", "cat"], "cat is already a class of builtin"),
    (["--metrics", "few_shot", "--few-shot-images", "2"], "at least 3"),
    (["--metrics", "few_shot", "--few-shot-images", "five"], "comma-separated positive integers"),
    (["--few-shot-images", "5"], "only for --metrics few_shot"),
    (["--metrics", "diversity", "--few-shot-translation", "5"], "only for --metrics few_shot"),
    (["--metrics", "diversity", "--few-shot-start-from", "panda"], "only for --metrics few_shot"),
])
def test_cli_eval_few_shot_errors(argv, words, capsys):
    from neuralcollage.cli import main
    code = main(["eval", *argv])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.strip().count("\n") == 0, err


@pytest.mark.slow
def test_koala_with_ten_images_meets_the_target_with_the_default_start(builtin, judge):
    result = few_shot.evaluate_few_shot(builtin, species=["koala"], counts=[10], judge=judge, n=200, seed=0,
                                        closeup_variant=0)
    row = result["packs"][0]
    assert row["judged"] >= 0.9 and row["diversity"] >= 0.6 and row["old_classes_identical"]


@pytest.mark.slow
def test_part_translation_into_a_new_class_is_judged_by_the_part_judge(builtin, judge):
    from neuralcollage.classes import train_class
    from neuralcollage.datasets import SPECIES
    part_judge = few_shot.load_part_judge()
    assert part_judge.n_classes == len(SPECIES)
    images = few_shot.training_images("tiger", 3, seed=0, size=64)
    pack = train_class(builtin, list(images), "tiger", steps=1, seed=0, init_class="nearest")
    r = few_shot.part_translation_into(builtin, pack, part_judge=part_judge, n=3, steps=1, photo_size=64)
    assert r["into"] == 6 and r["species"] == "tiger" and r["n"] + r["n_empty_masks"] == 3
    assert set(r["predicted_counts"]) <= set(SPECIES) and sum(r["predicted_counts"].values()) == r["n"]
    assert r["value"] == r["predicted_counts"].get("tiger", 0) / r["n"] and r["unchanged_outside_mask"] == 1.0
    json.dumps(r)
    renamed = train_class(builtin, list(images), "stripy", steps=0, seed=0, init_class="nearest")
    with pytest.raises(InputError, match="not a rendered species"):
        few_shot.part_translation_into(builtin, renamed, part_judge=part_judge, n=1)
