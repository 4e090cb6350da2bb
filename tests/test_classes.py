"""Few-shot class addition: class packs (neuralcollage.classes), `collage add-class`, the new species."""
import dataclasses
import json
import os

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage import classes
from neuralcollage.io import InputError, read_image, write_image
from neuralcollage.models.encoder import Encoder
from neuralcollage.pretrained import load_bundle, model_vocabulary
from nc_testing import random_class_tables


def _write_model(folder, *, seed=0, encoder=True):
    """A tiny32 generator (distinct class rows), discriminator and encoder in ``folder``; the generator path."""
    import chainer
    os.makedirs(folder, exist_ok=True)
    chainer.backends.cuda.get_array_module  # noqa: B018 (Chainer imported)
    np.random.seed(seed)
    g = random_class_tables(nc.Generator.from_preset("tiny32"), seed=seed + 7)
    d = nc.Discriminator.from_preset("tiny32")
    path = os.path.join(folder, "generator.npz")
    nc.save_snapshot(g, path, kind="generator")
    nc.save_snapshot(d, os.path.join(folder, "discriminator.npz"), kind="discriminator")
    if encoder:
        e = Encoder.from_preset("tiny32")
        e.l_y.W.array[...] = np.random.RandomState(seed).standard_normal(e.l_y.W.shape).astype(np.float32)
        nc.save_snapshot(e, os.path.join(folder, "encoder.npz"), kind="encoder")
    return path


def _images(n, *, species="koala", size=40):
    from neuralcollage.datasets import render_sample
    # non-square inputs: cut to their centred square like edits
    return [np.pad(render_sample(900 + i, class_id=species, size=size).image, ((0, 0), (3, 5), (0, 0)))
            for i in range(n)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return _write_model(str(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def pack_path(model, tmp_path_factory):
    bundle = load_bundle(model)
    pack = classes.train_class(bundle, _images(4), "koala", steps=4, seed=3, synonyms=["drop bear"], search_steps=3)
    path = str(tmp_path_factory.mktemp("packs") / "koala.npz")
    pack.save(path)
    return path


def test_pack_file_holds_rows_name_base_and_record(model, pack_path):
    bundle = load_bundle(model)
    pack = classes.load_pack(pack_path)
    assert pack.name == "koala" and pack.synonyms == ("drop bear",)
    assert pack.base["generator_sha256"] == bundle.sha256["generator"] and pack.base["n_classes"] == 4
    layers = classes.model.class_layers(bundle.generator)
    assert list(pack.generator) == [name for name, _ in layers]
    for name, link in layers:
        gamma, beta = pack.generator[name]
        assert gamma.shape == beta.shape == (link.size,) and gamma.dtype == np.float32
    assert pack.discriminator.shape == (bundle.discriminator.l_y.W.shape[1],)
    assert pack.encoder.shape == (bundle.encoder.hidden,)
    rec = pack.record
    assert rec["method"] == "rows" and rec["steps"] == 4 and rec["seed"] == 3 and rec["n_images"] == 4
    assert len(rec["images_sha256"]) == 4 and rec["init_class"] in bundle.vocabulary.names
    assert rec["losses"][0]["step"] == 0 and rec["losses"][-1]["step"] == 3
    with np.load(pack_path, allow_pickle=False) as f:  # no pickles in the file
        assert "meta" in f.files
    assert os.path.getsize(pack_path) < 200_000


def test_seeded_training_is_reproducible(model):
    bundle = load_bundle(model)
    # the seed draws the batches (and, with the adversarial term, its latents and flips)
    short = dict(steps=2, batch_size=2, search_steps=3, encoder_steps=3)
    a = classes.train_class(bundle, _images(4), "koala", seed=5, **short)
    b = classes.train_class(bundle, _images(4), "koala", seed=5, **short)
    c = classes.train_class(bundle, _images(4), "koala", seed=6, **short)
    assert all(np.array_equal(a.generator[k][0], b.generator[k][0]) for k in a.generator)
    assert not all(np.array_equal(a.generator[k][0], c.generator[k][0]) for k in a.generator)


def test_training_lowers_the_reconstruction_loss(model):
    bundle = load_bundle(model)
    pack = classes.train_class(bundle, _images(4), "koala", steps=25, seed=0, adversarial=0.0,
                               init_class="nearest")
    losses = [r["reconstruction"] for r in pack.record["losses"]]
    assert losses[-1] < losses[0]


def test_nearest_method_copies_the_nearest_rows(model):
    bundle = load_bundle(model)
    pack = classes.train_class(bundle, _images(3), "koala", steps=10, method="nearest", init_class=2)
    assert pack.record["steps"] == 0 and pack.record["init_class"] == bundle.vocabulary.names[2]
    for name, link in classes.model.class_layers(bundle.generator):
        assert np.array_equal(pack.generator[name][0], link.gammas.W.array[2])
        assert np.array_equal(pack.generator[name][1], link.betas.W.array[2])


def test_combination_method_records_its_weights(model):
    bundle = load_bundle(model)
    pack = classes.train_class(bundle, _images(3), "koala", steps=3, method="combination", init_class=1)
    weights = np.array(pack.record["combination"])
    assert weights.shape == (bundle.generator.n_class_layers, 4)


def _outputs(bundle, k):
    import chainer
    gen, dis, enc = bundle.generator, bundle.discriminator, bundle.encoder
    z = gen.sample_z(4, seed=11)
    res = gen.resolution
    soft = np.zeros((4, gen.n_classes), np.float32)
    soft[:, 0], soft[:, 1] = 0.3, 0.7
    spatial = np.zeros((4, gen.n_classes, res, res), np.float32)
    spatial[:, 0, :, : res // 2] = 1
    spatial[:, 2, :, res // 2:] = 1
    blend = [np.full((4, 3, r, r), 0.5, np.float32) for r in gen.blend_resolutions]
    x = np.random.RandomState(0).uniform(-1, 1, (4, 3, res, res)).astype(np.float32)
    out = {}
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        for c in range(k):
            out[f"class {c}"] = gen.forward(z, c).array
        out["soft"] = gen.forward(z, soft).array
        out["spatial"] = gen.forward(z, spatial).array
        out["blend"] = gen.blend([z, z[::-1]], np.array([0, 1, 2, 3], np.int32), blend).array
        out["dis"] = dis.forward(x, np.array([0, 1, 2, 3], np.int32)).array
        out["dis scores"] = dis.class_scores(x).array[:, :k]
        out["encoder"] = enc.forward(x, np.array([3, 2, 1, 0], np.int32)).array
    return out


def test_old_classes_are_bit_identical_with_a_pack(model, pack_path):
    plain = load_bundle(model)
    extended = load_bundle(model, classes=[pack_path])
    assert extended.generator.n_classes == extended.discriminator.n_classes == extended.encoder.n_classes == 5
    a, b = _outputs(plain, 4), _outputs(extended, 4)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    # the old tables themselves are untouched
    for (name, old), (_, new) in zip(classes.model.class_layers(plain.generator), classes.model.class_layers(extended.generator)):
        assert np.array_equal(old.gammas.W.array, new.gammas.W.array[:4])


def test_new_class_uses_the_pack_rows(model, pack_path):
    import chainer
    from neuralcollage.links import fastconv
    bundle = load_bundle(model, classes=[pack_path])
    pack = classes.load_pack(pack_path)
    gen, dis = bundle.generator, bundle.discriminator
    z = gen.sample_z(3, seed=2)
    rows = [pack.generator[name] for name, _ in classes.model.class_layers(gen)]
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        got = gen.forward(z, 4).array
        with fastconv.constant_parameters():
            want = classes.model.forward_rows(gen, z, rows).array
        np.testing.assert_allclose(got, want, atol=1e-4)
        x = got
        f = dis.features(x).array.sum(axis=(2, 3))
        w, b = classes.training.discriminator_head(dis)
        np.testing.assert_allclose(dis.forward(x, np.full(3, 4, np.int32)).array,
                                   f @ w + b + f @ pack.discriminator, rtol=1e-4, atol=1e-4)
        mixed = dis.forward(x, np.array([4, 0, 4], np.int32)).array
        assert np.array_equal(mixed[1], dis.forward(x[1:2], np.array([0], np.int32)).array[0])
        assert dis.class_scores(x).shape == (3, 5)
    assert bundle.vocabulary.names[-1] == "koala" and bundle.vocabulary.index("drop bear") == 4
    assert bundle.sha256["class:koala"] == pack.sha256 and bundle.class_packs[0].name == "koala"


def test_plus_spec_loads_packs_and_vocabulary(model, pack_path):
    spec = f"{model}+{pack_path}"
    assert classes.split_model_spec(spec) == (model, [pack_path])
    assert classes.split_model_spec("builtin") == ("builtin", [])
    assert classes.split_model_spec("builtin+a.npz+b.npz") == ("builtin", ["a.npz", "b.npz"])
    bundle = load_bundle(spec)
    assert bundle.generator.n_classes == 5 and bundle.name == f"{model}+{pack_path}"
    assert model_vocabulary(spec).names[-1] == "koala"


def test_pack_for_another_base_is_refused_naming_both_sha256(model, pack_path, tmp_path):
    other = _write_model(str(tmp_path / "other"), seed=1)
    want = classes.load_pack(pack_path).base["generator_sha256"]
    have = load_bundle(other).sha256["generator"]
    with pytest.raises(classes.ClassPackError) as err:
        load_bundle(other, classes=[pack_path])
    message = str(err.value)
    assert want in message and have in message and "\n" not in message


def test_the_same_pack_twice_is_refused(model, pack_path):
    with pytest.raises(classes.ClassPackError, match="already has a class named 'koala'"):
        load_bundle(model, classes=[pack_path, pack_path])


def test_bad_inputs_are_refused(model, tmp_path):
    bundle = load_bundle(model)
    with pytest.raises(InputError, match="needs at least 3"):
        classes.train_class(bundle, _images(2), "koala", steps=1)
    with pytest.raises(InputError, match="already has a class named 'class 1'"):
        classes.train_class(bundle, _images(3), "class 1", steps=1)
    with pytest.raises(InputError, match="uint8 RGB"):
        classes.train_class(bundle, [np.zeros((8, 8), np.uint8)] * 3, "koala", steps=1)
    with pytest.raises(InputError, match="unknown method"):
        classes.train_class(bundle, _images(3), "koala", steps=1, method="magic")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(classes.ClassPackError, match="not a readable class pack"):
        classes.load_pack(str(junk))


def test_biggan_cannot_take_classes():
    from neuralcollage.models.biggan import BigGANDeep
    bundle = nc.pretrained.ModelBundle(name="bg", generator=BigGANDeep.from_preset("tiny32"))
    with pytest.raises(classes.ClassPackError, match="cannot take new classes"):
        classes.train_class(bundle, _images(3), "koala", steps=1)


def test_recipe_checks_the_class_packs():
    from neuralcollage.collage.recipes import RecipeError, check_class_packs

    class B:
        sha256 = {"generator": "g", "class:koala": "aaa"}
    check_class_packs({"sha256": {"generator": "g", "class:koala": "aaa"}}, B())
    with pytest.raises(RecipeError, match="class packs koala"):
        check_class_packs({"sha256": {"generator": "g", "class:koala": "bbb"}}, B())
    with pytest.raises(RecipeError, match="none"):
        check_class_packs({"sha256": {"generator": "g"}}, B())


def test_new_species_render_and_the_six_classes_keep_their_draws():
    from neuralcollage.datasets import CLASS_NAMES, NEW_SPECIES, SPECIES, render_batch, render_sample
    assert SPECIES == CLASS_NAMES + NEW_SPECIES and {"koala", "tiger"} <= set(NEW_SPECIES)
    for name in NEW_SPECIES:
        s = render_sample(3, class_id=name, size=48)
        assert s.class_name == name and all(s.masks[p].any() for p in ("face", "ears", "eyes", "muzzle"))
        other = render_sample(3, class_id="cat", size=48)
        assert np.abs(s.image.astype(int) - other.image.astype(int)).mean() > 5
    _, ids, _, _ = render_batch(list(range(200)), size=16)
    assert set(ids.tolist()) == set(range(len(CLASS_NAMES)))


def test_cli_help_constants_match_the_library():
    from neuralcollage import cli
    assert cli.ADD_CLASS_MIN_IMAGES == classes.MIN_IMAGES and cli.ADD_CLASS_METHODS == classes.METHODS
    from neuralcollage.collage import new_class
    assert cli.ADD_CLASS_DEFAULTS == {k: new_class.DEFAULTS[k] for k in cli.ADD_CLASS_DEFAULTS}
    assert cli.ADD_CLASS_START_MODES == classes.START_MODES


def _cli(argv, capsys):
    from neuralcollage.cli import main
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_add_class_errors(model, tmp_path, capsys):
    paths = []
    for i, image in enumerate(_images(3)):
        paths.append(str(tmp_path / f"k{i}.png"))
        write_image(paths[-1], image)
    out = str(tmp_path / "k.npz")
    code, _, err = _cli(["add-class", "koala", *paths[:2], "-o", out, "--model", model], capsys)
    assert code == 2 and "needs at least 3" in err and err.count("\n") == 1
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"junk")
    code, _, err = _cli(["add-class", "koala", *paths[:2], str(bad), "-o", out, "--model", model], capsys)
    assert code == 2 and "bad.png" in err and "Traceback" not in err
    code, _, err = _cli(["add-class", "class 2", *paths, "-o", out, "--model", model], capsys)
    assert code == 2 and "already has a class named 'class 2'" in err
    code, _, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", "biggan-deep-128"], capsys)
    assert code == 3 and "cannot take new classes" in err
    assert not os.path.exists(out)


@pytest.mark.slow
def test_cli_add_class_then_use_the_class(model, tmp_path, capsys):
    paths = []
    for i, image in enumerate(_images(3)):
        paths.append(str(tmp_path / f"k{i}.png"))
        write_image(paths[-1], image)
    out = str(tmp_path / "koala.npz")
    code, stdout, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", model, "--steps", "2",
                              "--seed", "1", "--closeup-variant", "0", "-q"], capsys)
    assert code == 0, err
    assert os.path.isfile(out) and os.path.isfile(str(tmp_path / "koala_samples.png"))
    assert classes.load_pack(out).record["seed"] == 1
    code, stdout, err = _cli(["labels", "--model", f"{model}+{out}"], capsys)
    assert code == 0 and stdout.strip().splitlines()[-1].split() == ["4", "koala"]
    grid = str(tmp_path / "gen.png")
    code, _, err = _cli(["generate", "--model", f"{model}+{out}", "--label", "koala", "-n", "2", "-o", grid,
                         "-q"], capsys)
    assert code == 0 and os.path.isfile(grid), err
    code, _, err = _cli(["add-class", "koala", *paths, "-o", str(tmp_path / "again.npz"), "--model",
                         f"{model}+{out}"], capsys)
    assert code == 2 and "already has a class named 'koala'" in err


def test_shipped_judge_loads_and_tells_the_new_species_apart():
    from neuralcollage.analysis import few_shot
    judge = few_shot.load_judge()
    images = np.concatenate([few_shot.held_out_species(s, 4, size=64, seed=3) for s in ("koala", "tiger", "cat")])
    assert judge.predict(images).tolist() == [6] * 4 + [7] * 4 + [0] * 4
    train = few_shot.training_images("koala", 3, seed=0, size=32)
    assert train.shape == (3, 32, 32, 3) and not np.array_equal(train[0], train[1])


def test_nearest_class_by_scores_and_by_reconstruction(model):
    from neuralcollage.io import to_model
    bundle = load_bundle(model)
    x = to_model(classes.prepare_images(_images(3), bundle.generator.resolution))
    for by in ("scores", "reconstruction"):
        assert 0 <= classes.nearest_class(bundle, x, by=by) < 4


def test_adversarial_term_trains_the_projection_row(model):
    bundle = load_bundle(model)
    plain = classes.train_class(bundle, _images(3), "koala", steps=2, seed=0, init_class=1)
    adv = classes.train_class(bundle, _images(3), "koala", steps=2, seed=0, init_class=1, adversarial=0.1)
    assert classes.DEFAULTS["adversarial"] == 0.0 and plain.record["adversarial"] == 0.0
    assert np.array_equal(plain.discriminator, classes.model.effective_l_y(bundle.discriminator)[1])
    assert not np.array_equal(adv.discriminator, plain.discriminator)
    assert "adv_d" in adv.record["losses"][0] and "adv_d" not in plain.record["losses"][0]


def test_search_starts_from_the_class_with_the_lowest_trial_loss(model):
    bundle = load_bundle(model)
    pack = classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, init_class="search", search_steps=2)
    losses = pack.record["init_search"]["losses"]
    assert len(losses) == 4 and pack.record["init_class"] == min(losses, key=losses.get)
    same = classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, init_class=pack.record["init_class"])
    assert all(np.array_equal(pack.generator[k][0], same.generator[k][0]) for k in pack.generator)


def test_the_search_trials_use_their_own_step_size(model):
    bundle = load_bundle(model)
    assert classes.DEFAULTS["search_lr_rows"] < classes.DEFAULTS["lr_rows"]
    pack = classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, init_class="search", search_steps=2)
    assert pack.record["init_search"]["lr_rows"] == classes.DEFAULTS["search_lr_rows"]
    assert pack.record["lr_rows"] == classes.DEFAULTS["lr_rows"]
    fast = classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, init_class="search", search_steps=2,
                               search_lr_rows=classes.DEFAULTS["lr_rows"])
    assert fast.record["init_search"]["losses"] != pack.record["init_search"]["losses"]
    trial = classes.train_class(bundle, _images(3), "koala", steps=2, seed=0, encoder_steps=0,
                                init_class=pack.record["init_class"], lr_rows=classes.DEFAULTS["search_lr_rows"])
    assert pack.record["init_search"]["losses"][pack.record["init_class"]] == pytest.approx(
        trial.record["losses"][-1]["reconstruction"], abs=1e-5)


def test_the_search_is_the_default_start_and_nearest_is_still_available(model):
    bundle = load_bundle(model)
    default = classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, search_steps=2)
    searched = classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, init_class="search", search_steps=2)
    assert classes.DEFAULTS["init_class"] == "search" and "init_search" in default.record
    record = default.record
    assert record["total_seconds"] >= record["seconds"] + record["init_search"]["seconds"] - 0.05
    assert default.record["init_search"]["losses"] == searched.record["init_search"]["losses"]
    from neuralcollage.io import to_model
    nearest = classes.nearest_class(bundle, to_model(classes.prepare_images(_images(3), bundle.generator.resolution)))
    for start in ("nearest", None):
        pack = classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, init_class=start)
        assert "init_search" not in pack.record and pack.record["init_class"] == bundle.vocabulary.names[nearest]
    ranking = classes.class_ranking(bundle, to_model(classes.prepare_images(_images(3), bundle.generator.resolution)))
    assert sorted(ranking.tolist()) == [0, 1, 2, 3] and ranking[0] == nearest
    two = classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, search_steps=2, search_candidates=2)
    top = {bundle.vocabulary.names[c] for c in ranking[:2]}
    assert set(two.record["init_search"]["losses"]) == top
    assert two.record["init_search"]["losses"] == {k: v for k, v in searched.record["init_search"]["losses"].items()
                                                    if k in top}
    baseline = classes.train_class(bundle, _images(3), "koala", seed=0, method="nearest", steps=1)
    assert "init_search" not in baseline.record and baseline.record["init_class"] == bundle.vocabulary.names[nearest]


def test_freezed_tunes_a_copy_of_the_top_discriminator_blocks_only(model):
    bundle = load_bundle(model)
    before = [p.array.copy() for p in bundle.discriminator.params()]
    plain = classes.train_class(bundle, _images(3), "koala", steps=2, seed=0, init_class=1, adversarial=0.1)
    tuned = classes.train_class(bundle, _images(3), "koala", steps=2, seed=0, init_class=1, adversarial=0.1,
                                tune_d_blocks=1)
    assert all(np.array_equal(a, p.array) for a, p in zip(before, bundle.discriminator.params()))
    assert tuned.record["tune_d_blocks"] == 1 and "tune_d_blocks" not in plain.record
    assert "adv_d" in tuned.record["losses"][0] and "adv_g" in tuned.record["losses"][0]
    assert np.array_equal(tuned.discriminator, classes.model.effective_l_y(bundle.discriminator)[1])
    assert not all(np.array_equal(tuned.generator[k][0], plain.generator[k][0]) for k in tuned.generator)
    with pytest.raises(InputError, match="tune_d_blocks"):
        classes.train_class(bundle, _images(3), "koala", steps=1, seed=0, init_class=1, adversarial=0.1,
                            tune_d_blocks=99)


def test_closeups_are_enlarged_windows_of_the_images_and_train_with_them(model):
    images = _images(3)
    a = classes.closeup_crops(images, 32, per_image=2, seed=4)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, classes.closeup_crops(images, 32, per_image=2, seed=4))
    assert not np.array_equal(a, classes.closeup_crops(images, 32, per_image=2, seed=5))
    whole = classes.closeup_crops(images, 32, per_image=1, zoom=(1.0, 1.0), seed=4)
    assert np.array_equal(whole, classes.prepare_images(images, 32))  # zoom 1: the centred square itself
    with pytest.raises(InputError, match="zoom"):
        classes.closeup_crops(images, 32, per_image=1, zoom=(0.5, 2.0))
    bundle = load_bundle(model)
    plain = classes.train_class(bundle, images, "koala", steps=2, seed=0, init_class=1)
    pack = classes.train_class(bundle, images, "koala", steps=2, seed=0, init_class=1, closeups=2)
    assert pack.record["closeups"] == 2 and plain.record["closeups"] == 0
    assert pack.record["n_images"] == 3 and pack.record["images_sha256"] == plain.record["images_sha256"]
    assert not all(np.array_equal(pack.generator[k][0], plain.generator[k][0]) for k in pack.generator)


def test_branch_pack_acts_only_where_the_new_class_is_asked_for(model, tmp_path):
    import chainer
    bundle = load_bundle(model)
    pack = classes.train_class(bundle, _images(3), "koala", steps=3, seed=0, init_class=1, method="branch",
                               branch_layer=1, branch_rank=4, lr_branch=0.05)
    width = bundle.generator.channels[1] * bundle.generator.ch
    assert pack.branch["layer"] == 1 and pack.branch["w1"].shape == (4, width, 3, 3)
    assert pack.branch["w2"].shape == (width, 4, 1, 1) and np.abs(pack.branch["w2"]).max() > 0
    assert pack.record["branch_layer"] == 1 and pack.record["branch_rank"] == 4
    path = str(tmp_path / "branch.npz")
    pack.save(path)
    loaded = classes.load_pack(path)
    assert all(np.array_equal(loaded.branch[k], pack.branch[k]) for k in ("w1", "b1", "w2", "b2"))
    plain, extended = load_bundle(model), load_bundle(model, classes=[path])
    a, b = _outputs(plain, 4), _outputs(extended, 4)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    gen = extended.generator
    z = gen.sample_z(2, seed=3)
    res = gen.resolution
    spatial = np.zeros((2, 5, res, res), np.float32)
    spatial[:, 0] = 1
    spatial[:, 0, :, res // 2:], spatial[:, 4, :, res // 2:] = 0, 1
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        with_branch = [gen.forward(z, 4).array, gen.forward(z, spatial).array]
        gen.class_branches = None
        without = [gen.forward(z, 4).array, gen.forward(z, spatial).array]
    assert not np.array_equal(with_branch[0], without[0])
    assert not np.array_equal(with_branch[1], without[1])
    assert np.array_equal(with_branch[1][..., :2], without[1][..., :2])  # far from the new class's half
    with pytest.raises(InputError, match="branch_layer"):
        classes.train_class(bundle, _images(3), "koala", steps=1, init_class=1, method="branch", branch_layer=9)


def _cli_images(tmp_path, n=3):
    paths = []
    for i, image in enumerate(_images(n)):
        paths.append(str(tmp_path / f"k{i}.png"))
        write_image(paths[-1], image)
    return paths


def test_cli_add_class_branch_and_closeups(model, tmp_path, capsys):
    out = str(tmp_path / "koala.npz")
    code, stdout, err = _cli(["add-class", "koala", *_cli_images(tmp_path), "-o", out, "--model", model,
                              "--steps", "1", "--start-from", "class 1", "--method", "branch", "--closeups", "1",
                              "--closeup-variant", "0", "--no-samples", "-q"], capsys)
    assert code == 0, err
    pack = classes.load_pack(out)
    assert pack.record["method"] == "branch" and pack.record["closeups"] == 1 and pack.branch is not None


def test_cli_add_class_lr_rows(model, tmp_path, capsys):
    paths = _cli_images(tmp_path)
    out = str(tmp_path / "koala.npz")
    for bad in ("0", "-0.1", "nan", "2"):
        code, _, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", model, "--lr-rows", bad], capsys)
        assert code == 2 and "--lr-rows" in err and err.count("\n") == 1
        assert not os.path.exists(out)
    code, _, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", model, "--steps", "1", "--start-from",
                         "class 1", "--lr-rows", "0.01", "--closeup-variant", "0", "--no-samples", "-q"], capsys)
    assert code == 0, err
    slow = classes.load_pack(out)
    code, _, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", model, "--steps", "1", "--start-from",
                         "class 1", "--closeup-variant", "0", "--no-samples", "-q"], capsys)
    assert code == 0, err
    default = classes.load_pack(out)
    assert slow.record["lr_rows"] == 0.01 and default.record["lr_rows"] == classes.DEFAULTS["lr_rows"]
    layer = next(iter(default.generator))
    assert not np.array_equal(slow.generator[layer][0], default.generator[layer][0])


def test_cli_add_class_freezed(model, tmp_path, capsys):
    paths = _cli_images(tmp_path)
    out = str(tmp_path / "koala.npz")
    code, _, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", model, "--tune-d-blocks", "1"], capsys)
    assert code == 2 and "--tune-d-blocks needs --adversarial > 0" in err and err.count("\n") == 1
    assert not os.path.exists(out)
    code, _, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", model, "--steps", "1", "--start-from",
                         "class 1", "--adversarial", "0.1", "--tune-d-blocks", "1", "--closeup-variant", "0",
                         "--no-samples", "-q"], capsys)
    assert code == 0, err
    rec = classes.load_pack(out).record
    assert rec["adversarial"] == 0.1 and rec["tune_d_blocks"] == 1


def test_cli_training_options_in_help_and_only_for_few_shot_eval(capsys):
    code, text, _ = _cli(["add-class", "--help"], capsys)
    assert code == 0
    assert all(flag in text for flag in ("--method", "--closeups", "--adversarial", "--tune-d-blocks", "branch"))
    assert "--tune-d-blocks 1" in text  # an example
    code, _, err = _cli(["eval", "--metrics", "diversity", "--few-shot-method", "branch"], capsys)
    assert code == 2 and "--few-shot-method: only for --metrics few_shot" in err


def _new_class_samples(bundle, pack, z):
    import chainer
    gen = classes.apply_packs(classes.copy_bundle(bundle), [pack]).generator
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        return gen.forward(gen.device.send(z), gen.n_classes - 1).array


def test_two_stage_keeps_the_rows_adds_a_closeup_branch_and_anchors_whole_samples(model, tmp_path):
    bundle = load_bundle(model)
    common = dict(steps=4, seed=0, init_class=1, branch_layer=1, branch_rank=4, lr_branch=0.05, encoder_steps=2)
    rows = classes.train_class(bundle, _images(3), "koala", method="rows", **common)
    pack = classes.train_class(bundle, _images(3), "koala", method="two_stage", closeups=1, **common)
    # stage 1 is the rows pack: the same rows, projection and encoder rows
    assert all(np.array_equal(pack.generator[k][i], rows.generator[k][i]) for k in rows.generator for i in (0, 1))
    assert np.array_equal(pack.encoder, rows.encoder) and np.array_equal(pack.discriminator, rows.discriminator)
    rec = pack.record
    assert rec["method"] == "two_stage" and rec["stage1"]["losses"] == rows.record["losses"] and rec["closeups"] == 1
    assert rec["stage2"]["closeups"] == 1 and rec["stage2"]["n_closeups"] == 3 and rec["stage2"]["anchor"] == 1.0
    assert len(rec["stage2"]["losses"]) == 2 and "anchor" in rec["stage2"]["losses"][-1]
    assert pack.branch["layer"] == 1 and np.abs(pack.branch["w2"]).max() > 0
    # round trip; old classes bit-identical with the pack loaded
    path = str(tmp_path / "two_stage.npz")
    pack.save(path)
    loaded = classes.load_pack(path)
    assert loaded.record["stage2"] == json.loads(json.dumps(rec["stage2"]))
    assert all(np.array_equal(loaded.branch[k], pack.branch[k]) for k in ("w1", "b1", "w2", "b2"))
    a, b = _outputs(load_bundle(model), 4), _outputs(load_bundle(model, classes=[path]), 4)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    # the anchor holds the new class's samples of ordinary latents nearer the rows pack's than no anchor does
    free = classes.train_class(bundle, _images(3), "koala", method="two_stage", closeups=1, anchor=0.0, **common)
    z = np.random.RandomState(5).standard_normal((6, bundle.generator.dim_z)).astype(np.float32)
    base = _new_class_samples(bundle, rows, z)
    anchored = np.abs(_new_class_samples(bundle, pack, z) - base).mean()
    unanchored = np.abs(_new_class_samples(bundle, free, z) - base).mean()
    assert 0 < anchored < unanchored
    # closeups=0 means the default count of close-ups (4 per image); bad values are refused
    default = classes.train_class(bundle, _images(3), "koala", method="two_stage", **{**common, "steps": 1})
    assert default.record["stage2"]["closeups"] == classes.two_stage.TWO_STAGE_CLOSEUPS == 4
    assert default.record["stage2"]["n_closeups"] == 12
    with pytest.raises(InputError, match="anchor"):
        classes.train_class(bundle, _images(3), "koala", method="two_stage", anchor=-1.0, **common)
    with pytest.raises(InputError, match="branch_layer"):
        classes.train_class(bundle, _images(3), "koala", method="two_stage", **{**common, "branch_layer": 9})


def test_cli_add_class_two_stage(model, tmp_path, capsys):
    out = str(tmp_path / "koala.npz")
    code, _, err = _cli(["add-class", "koala", *_cli_images(tmp_path), "-o", out, "--model", model, "--steps", "1",
                         "--start-from", "class 1", "--method", "two_stage", "--closeups", "1", "--closeup-variant",
                         "0", "--no-samples", "-q"], capsys)
    assert code == 0, err
    pack = classes.load_pack(out)
    assert pack.record["method"] == "two_stage" and pack.record["stage2"]["closeups"] == 1 and pack.branch is not None


@pytest.fixture(scope="module")
def closeup_pack_path(model, tmp_path_factory):
    bundle = load_bundle(model)
    pack = classes.train_class(bundle, _images(3), "koala", steps=3, seed=0, init_class=1, closeup_variant=2,
                               closeup_method="branch", branch_layer=1, branch_rank=4, lr_branch=0.05)
    path = str(tmp_path_factory.mktemp("closeup") / "koala.npz")
    pack.save(path)
    return path


def test_closeup_variant_is_trained_saved_and_loaded_as_a_class_of_its_own(model, closeup_pack_path):
    import chainer
    pack = classes.load_pack(closeup_pack_path)
    variant = pack.closeup
    assert list(variant["generator"]) == list(pack.generator) and variant["branch"]["layer"] == 1
    assert variant["record"]["closeups_per_image"] == 2 and variant["record"]["n_images"] == 3
    assert pack.record["closeup_variant"] == 2
    assert variant["record"]["method"] == "branch" and variant["record"]["init_class"] == pack.record["init_class"]
    assert pack.branch is None and np.abs(variant["branch"]["w2"]).max() > 0
    assert any(not np.array_equal(variant["generator"][k][0], pack.generator[k][0]) for k in pack.generator)
    plain, extended = load_bundle(model), load_bundle(model, classes=[closeup_pack_path])
    a, b = _outputs(plain, 4), _outputs(extended, 4)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert list(extended.vocabulary.names[4:]) == ["koala", "koala (close-up)"] and len(extended.vocabulary) == 6
    assert classes.closeup_class(extended, 4) == 5 and classes.closeup_class(extended, 3) is None
    assert classes.base_record(extended)["n_classes"] == 4
    gen = extended.generator
    assert gen.n_classes == 6 and set(gen.class_branches) == {5}
    z = gen.sample_z(2, seed=1)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        whole, closeup = gen.forward(z, 4).array, gen.forward(z, 5).array
    assert not np.array_equal(whole, closeup)
    vocab = classes.vocabulary_with_packs(model_vocabulary(model), [closeup_pack_path])
    assert vocab.names == extended.vocabulary.names
    assert "and its close-up variant 'koala (close-up)' as index 5" in extended.notes[-1]


def test_closeup_variant_draws_part_edits_and_replays(model, closeup_pack_path):
    from neuralcollage.collage import edit_photo, replay
    from neuralcollage.datasets import render_sample
    bundle = load_bundle(model, classes=[closeup_pack_path])
    photo = render_sample(5, class_id=0, size=96).image
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[20:36, 20:36] = 1
    options = dict(source_label=0, steps=2, reconstruction="projection")
    part = edit_photo(bundle, photo, mask, "koala", **options)
    assert part.box[2] < 96 and part.target_class == 5
    assert part.recipe["edit"]["target_class"] == {"id": 5, "name": "koala (close-up)"}
    assert any("close-up variant 'koala (close-up)'" in n for n in part.notes)
    off = edit_photo(bundle, photo, mask, "koala", closeup_variant="off", **options)
    assert off.target_class == 4 and not np.array_equal(off.edited_crop, part.edited_crop)
    whole = edit_photo(bundle, photo, mask, "koala", box=(0, 0, 96), **options)
    assert whole.target_class == 4
    again = replay(part.recipe, photo, bundle)
    assert np.array_equal(again.image, part.image)
    from neuralcollage.collage.recipes import RecipeError
    with pytest.raises(RecipeError, match=r"with class packs koala .* none loaded; load them with --model"):
        replay(part.recipe, photo, load_bundle(model))


def test_closeup_variant_preview_edits_a_part_with_the_rows_and_with_the_variant(model, closeup_pack_path):
    import chainer
    from neuralcollage.blending import blend_region, crop_and_resize
    from neuralcollage.collage import edit_photo
    from neuralcollage.collage.preview import PREVIEW_SPOTS, closeup_variant_preview
    from neuralcollage.io import from_model
    bundle = load_bundle(model)
    pack = classes.load_pack(closeup_pack_path)
    options = dict(steps=2, reconstruction="projection")
    edits = closeup_variant_preview(bundle, pack, n=2, seed=3, **options)
    r = bundle.generator.resolution
    assert edits.shape == (2, 3, 2 * r, 2 * r, 3) and edits.dtype == np.uint8
    assert len(bundle.vocabulary) == 4  # the base model is not extended
    extended = load_bundle(model, classes=[closeup_pack_path])
    gen = bundle.generator
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        faces = [from_model(gen.forward(gen.sample_z(2, seed=3)[i:i + 1], i).array)[0] for i in range(2)]
    for i, (photo, rows, variant) in enumerate(edits):
        assert np.array_equal(photo, crop_and_resize(faces[i], (0, 0, r), 2 * r))
        yy, xx = np.mgrid[:2 * r, :2 * r]
        fy, fx = PREVIEW_SPOTS[i]
        mask = ((yy - fy * 2 * r) ** 2 + (xx - fx * 2 * r) ** 2 <= (0.15 * r) ** 2).astype(np.float32)
        outside = ~blend_region(mask, (0, 0, 2 * r), dilate=16)
        assert np.array_equal(rows[outside], photo[outside]) and np.array_equal(variant[outside], photo[outside])
        assert not np.array_equal(rows, variant)
        own = edit_photo(extended, photo, mask, "koala", source_label=i % 4, closeup_variant="off", seed=3 + i,
                         **options)
        drawn = edit_photo(extended, photo, mask, "koala", source_label=i % 4, seed=3 + i, **options)
        assert own.target_class == 4 and drawn.target_class == 5
        assert np.array_equal(own.image, rows) and np.array_equal(drawn.image, variant)
    with pytest.raises(InputError, match="no close-up variant"):
        closeup_variant_preview(bundle, classes.train_class(bundle, _images(3), "koala", method="nearest"))


def test_part_probe_tells_held_out_close_ups_of_a_new_species_from_the_models_classes():
    import chainer
    from neuralcollage.collage.closeup_check import PROBE_ZOOM, part_probe
    from neuralcollage.datasets import render_sample
    from neuralcollage.io import from_model
    bundle = load_bundle("builtin")
    train = [render_sample(500 + i, class_id="koala", size=64).image for i in range(10)]
    score, accuracy = part_probe(bundle, train, seed=0)
    assert accuracy > 0.9
    held_out = classes.closeup_crops([render_sample(700 + i, class_id="koala", size=64).image for i in range(10)],
                                     64, per_image=4, zoom=PROBE_ZOOM, seed=5)
    gen = bundle.generator
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        samples = from_model(gen.forward(gen.sample_z(30, seed=77), np.arange(30) % 6).array)
    others = classes.closeup_crops(list(samples), 64, per_image=1, zoom=PROBE_ZOOM, seed=6)
    koala, old = score(held_out), score(others)
    assert koala.shape == (40,) and old.shape == (30,)
    assert (koala > 0).mean() >= 0.5 and (old < 0).mean() >= 0.85 and koala.mean() > old.mean() + 2
    large = [render_sample(500 + i, class_id="koala", size=128).image for i in range(10)]
    score_large, _ = part_probe(bundle, large, seed=0)
    score_small, _ = part_probe(bundle, list(classes.prepare_images(large, 64)), seed=0)
    assert np.array_equal(score_large(held_out), score_small(held_out))  # images are seen at the model's size
    with pytest.raises(InputError, match="no discriminator"):
        part_probe(dataclasses.replace(bundle, discriminator=None), train)


def test_closeup_check_scores_the_preview_edits_with_the_probe(model, closeup_pack_path):
    from neuralcollage.blending import crop_and_resize, square_crop_box
    from neuralcollage.collage.closeup_check import CloseupCheck, closeup_variant_check, edited_regions, part_probe
    from neuralcollage.collage.preview import closeup_variant_preview, preview_masks
    bundle = load_bundle(model)
    pack = classes.load_pack(closeup_pack_path)
    options = dict(steps=2, reconstruction="projection")
    calls = []
    check = closeup_variant_check(bundle, pack, _images(3), n=3, seed=4, callback=lambda i, n: calls.append((i, n)),
                                  **options)
    assert isinstance(check, CloseupCheck) and check.n == 3 and calls == [(0, 3), (1, 3), (2, 3)]
    edits = closeup_variant_preview(bundle, pack, n=3, seed=4, **options)
    assert np.array_equal(check.edits, edits)
    score, accuracy = part_probe(bundle, _images(3), seed=4)
    r = bundle.generator.resolution
    boxes = [square_crop_box(m, margin=0.25) for m in preview_masks(r, 3)]
    regions = [np.stack([crop_and_resize(e[c], b, r) for e, b in zip(edits, boxes)]) for c in (1, 2)]
    assert all(np.array_equal(a, b) for a, b in zip(edited_regions(edits, r), regions))
    rows, variant = (score(x) for x in regions)
    assert check.rows == pytest.approx(rows.mean()) and check.variant == pytest.approx(variant.mean())
    assert check.difference == pytest.approx((variant - rows).mean())
    assert check.standard_error == pytest.approx((variant - rows).std(ddof=1) / np.sqrt(3))
    assert check.keep == (check.difference > 0) and check.probe_accuracy == accuracy
    record = check.record()
    assert json.loads(json.dumps(record))["keep"] == check.keep and "edits" not in record
    assert ("kept" if check.keep else "variant dropped") in check.describe()
    with pytest.raises(InputError, match="at least 2"):
        closeup_variant_check(bundle, pack, _images(3), n=1)
    with pytest.raises(InputError, match="no close-up variant"):
        closeup_variant_check(bundle, pack.without_closeup(), _images(3), n=2)


def test_pack_without_its_closeup_variant(model, closeup_pack_path, tmp_path):
    pack = classes.load_pack(closeup_pack_path)
    alone = pack.without_closeup(closeup_check={"keep": False})
    assert alone.closeup is None and alone.record["closeup_check"] == {"keep": False}
    assert pack.closeup is not None and "closeup_check" not in pack.record and alone.sha256 is None
    path = str(tmp_path / "alone.npz")
    alone.save(path)
    extended = load_bundle(model, classes=[path])
    assert extended.vocabulary.names[-1] == "koala" and classes.closeup_class(extended, 4) is None
    assert classes.load_pack(path).record["closeup_check"] == {"keep": False}


def test_add_class_trains_a_closeup_variant_and_keeps_it_only_when_the_check_says_so(model, monkeypatch):
    from neuralcollage.collage import closeup_check, new_class
    assert nc.add_class is new_class.add_class
    bundle = load_bundle(model)
    common = dict(steps=1, seed=2, init_class=1)
    trained = classes.train_class(bundle, _images(3), "koala", closeup_variant=new_class.CLOSEUP_VARIANT, **common)
    layer = next(iter(trained.generator))
    real = closeup_check.closeup_variant_check
    differences = []

    def forced(keep):
        def check(*args, **kwargs):
            result = real(*args, **kwargs)
            differences.append(result.difference)
            result.keep = keep
            return result
        return check

    for keep in (True, False):
        monkeypatch.setattr(closeup_check, "closeup_variant_check", forced(keep))
        pack, check = nc.add_class(bundle, iter(_images(3)), "koala", check_edits=2, return_check=True, **common)
        assert check.n == 2 and check.seed == 2 and pack.record["closeup_check"] == check.record()
        assert pack.record["closeup_variant"] == new_class.CLOSEUP_VARIANT and (pack.closeup is not None) == keep
        assert np.array_equal(pack.generator[layer][0], trained.generator[layer][0])
        if keep:
            assert np.array_equal(pack.closeup["generator"][layer][0], trained.closeup["generator"][layer][0])
    assert differences[0] == differences[1]
    monkeypatch.setattr(closeup_check, "closeup_variant_check", real)
    unchecked, check = nc.add_class(bundle, _images(3), "koala", check_closeup=False, return_check=True, **common)
    assert check is None and unchecked.closeup is not None and "closeup_check" not in unchecked.record
    blind = nc.add_class(dataclasses.replace(bundle, discriminator=None), _images(3), "koala", **common)
    assert blind.closeup is not None and "closeup_check" not in blind.record
    assert nc.add_class(bundle, _images(3), "koala", closeup_variant=0, **common).closeup is None
    assert nc.add_class(bundle, _images(3), "koala", method="nearest").closeup is None
    with pytest.raises(InputError, match="closeup_variant"):
        nc.add_class(bundle, _images(3), "koala", method="nearest", closeup_variant=2)


def test_closeup_variant_is_rows_by_default_and_equals_a_rows_pack_on_the_closeups(model, tmp_path):
    bundle = load_bundle(model)
    assert classes.DEFAULTS["closeup_method"] == "rows"
    pack = classes.train_class(bundle, _images(3), "koala", steps=3, seed=0, init_class=1, closeup_variant=2)
    variant = pack.closeup
    assert variant["branch"] is None and variant["record"]["method"] == "rows"
    alone = classes.train_class(bundle, _images(3), "koala", steps=3, seed=0, init_class=1, closeups=2,
                                encoder_steps=0)
    assert all(np.array_equal(variant["generator"][k][0], alone.generator[k][0])
               and np.array_equal(variant["generator"][k][1], alone.generator[k][1]) for k in alone.generator)
    path = str(tmp_path / "koala.npz")
    pack.save(path)
    loaded = classes.load_pack(path)
    assert loaded.closeup["branch"] is None and loaded.closeup["record"]["closeups_per_image"] == 2
    extended = load_bundle(model, classes=[path])
    assert extended.vocabulary.names[-1] == "koala (close-up)" and not extended.generator.class_branches
    with pytest.raises(InputError, match="closeup_method"):
        classes.train_class(bundle, _images(3), "koala", steps=1, closeup_variant=2, closeup_method="gate")


def test_closeup_variant_is_refused_with_nothing_to_train(model):
    with pytest.raises(InputError, match="closeup_variant"):
        classes.train_class(load_bundle(model), _images(3), "koala", method="nearest", closeup_variant=2)
    with pytest.raises(InputError, match="closeup_variant"):
        classes.train_class(load_bundle(model), _images(3), "koala", steps=1, closeup_variant=-1)


def test_cli_add_class_closeup_variant(model, tmp_path, capsys):
    paths = _cli_images(tmp_path)
    out = str(tmp_path / "koala.npz")
    code, _, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", model, "--method", "nearest",
                         "--closeup-variant", "2"], capsys)
    assert code == 2 and "--closeup-variant needs training" in err and err.count("\n") == 1
    code, _, err = _cli(["add-class", "koala", *paths, "-o", out, "--model", model, "--steps", "1", "--start-from",
                         "class 1", "--closeup-variant", "1", "--keep-closeup-variant"], capsys)
    assert code == 0, err
    assert "close-up check" not in err
    preview = str(tmp_path / "koala_closeup.png")
    assert f"close-up variant): {preview}" in err and "--closeup-variant off" in err
    side = 2 * load_bundle(model).generator.resolution
    assert read_image(preview).shape == (3 * side, 3 * side, 3)
    pack = classes.load_pack(out)
    assert pack.closeup["record"]["closeups_per_image"] == 1 and pack.closeup["record"]["closeup_zoom"] == [1.3, 2.4]
    code, stdout, _ = _cli(["labels", "--model", f"{model}+{out}"], capsys)
    assert code == 0 and stdout.strip().splitlines()[-1].split() == ["5", "koala", "(close-up)"]


def test_bench_add_class_prints_the_pack_estimate_and_its_ratio_to_the_target(tmp_path, capsys):
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks",
                        "bench_add_class.py")
    spec = importlib.util.spec_from_file_location("bench_add_class", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--arch", "tiny32", "--steps", "3", "--images", "3", "--batch-size", "2", "--out", str(tmp_path)])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["images"] == 3 and line["steps"] == 3 and line["s_per_step"] > 0
    expected = line["setup_s"] + 300 * line["s_per_step"] + min(6, line["n_classes"]) * 30 * line["s_per_step"]
    assert abs(line["estimate_pack_s"] - expected) <= 1
    assert abs(line["pack_vs_target"] - line["estimate_pack_s"] / 3600) < 1e-3
    assert classes.load_pack(os.path.join(str(tmp_path), "koala.npz")).name == "koala"
    assert line["method"] == classes.DEFAULTS["method"]
    bench.main(["--arch", "tiny32", "--steps", "2", "--images", "3", "--batch-size", "2", "--out", str(tmp_path),
                "--method", "branch"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["method"] == "branch"
    assert classes.load_pack(os.path.join(str(tmp_path), "koala.npz")).branch is not None
    bench.main(["--arch", "tiny32", "--steps", "2", "--images", "3", "--batch-size", "2", "--out", str(tmp_path),
                "--closeup-variant", "1", "--check-edits", "2"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["s_per_variant_step"] > 0 and line["s_per_check_edit"] > 0 and line["check_edits"] == 2
    expected = (line["estimate_pack_s"] + 300 * line["s_per_variant_step"] + line["probe_s"]
                + 30 * line["s_per_check_edit"])
    assert abs(line["estimate_default_s"] - expected) <= 1.5
    assert abs(line["default_vs_target"] - line["estimate_default_s"] / 3600) < 1e-3
    assert classes.load_pack(os.path.join(str(tmp_path), "koala.npz")).closeup is not None


def test_a_close_up_variant_that_does_not_fit_is_refused_in_one_line(model, closeup_pack_path, tmp_path):
    pack = classes.load_pack(closeup_pack_path)
    layer = next(iter(pack.closeup["generator"]))
    gamma, beta = pack.closeup["generator"][layer]
    pack.closeup["generator"][layer] = (gamma[:-1], beta)
    bad = str(tmp_path / "bad.npz")
    pack.save(bad)
    with pytest.raises(classes.ClassPackError, match=f"close-up variant's layer {layer} has"):
        load_bundle(model, classes=[bad])
    pack = classes.load_pack(closeup_pack_path)
    pack.closeup["branch"]["w2"] = pack.closeup["branch"]["w2"][:, :1]
    pack.save(bad)
    with pytest.raises(classes.ClassPackError, match="close-up variant's branch does not fit"):
        load_bundle(model, classes=[bad])
    arrays = dict(np.load(closeup_pack_path, allow_pickle=False))
    del arrays[f"closeup/generator/{layer}/beta"]
    np.savez(bad, **arrays)
    with pytest.raises(classes.ClassPackError, match="incomplete"):
        classes.load_pack(bad)


def test_cli_add_class_checks_the_closeup_variant_and_drops_it_when_it_loses(model, tmp_path, capsys, monkeypatch):
    from neuralcollage.collage import closeup_check
    paths = _cli_images(tmp_path)
    out = str(tmp_path / "koala.npz")
    monkeypatch.setattr(closeup_check, "CHECK_EDITS", 2)
    argv = ["add-class", "koala", *paths, "-o", out, "--model", model, "--steps", "1", "--start-from", "class 1"]
    code, _, err = _cli(argv, capsys)  # by default: a variant of 4 close-ups per image, checked
    assert code == 0, err
    pack = classes.load_pack(out)
    record = pack.record["closeup_check"]
    assert pack.record["closeup_variant"] == 4
    assert record["n"] == 2 and (pack.closeup is not None) == record["keep"]
    assert "close-up check (2 part edits" in err
    real = closeup_check.closeup_variant_check

    def losing(*args, **kwargs):
        result = real(*args, **kwargs)
        result.keep, result.difference = False, -1.0
        return result

    monkeypatch.setattr(closeup_check, "closeup_variant_check", losing)
    code, _, err = _cli(argv, capsys)
    assert code == 0, err
    pack = classes.load_pack(out)
    assert pack.closeup is None and pack.record["closeup_check"]["keep"] is False
    assert "variant -1.00" in err and "variant dropped" in err and "the pack keeps the class's own rows" in err
    assert "(its close-up variant was dropped by the check)" in err
    side = 2 * load_bundle(model).generator.resolution
    assert read_image(str(tmp_path / "koala_closeup.png")).shape == (2 * side, 3 * side, 3)  # the check's edits
    code, stdout, _ = _cli(["labels", "--model", f"{model}+{out}"], capsys)
    assert code == 0 and stdout.strip().splitlines()[-1].split() == ["4", "koala"]
