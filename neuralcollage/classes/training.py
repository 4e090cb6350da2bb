"""Learning a new class's rows (and branch) from a few images: :func:`train_class` and its helpers."""
from neuralcollage import _compat  # noqa: F401

import hashlib
import time

import numpy

from neuralcollage.classes.images import CLOSEUP_ZOOM, class_ranking, closeup_crops, nearest_class, prepare_images
from neuralcollage.classes.model import (base_name, base_record, check_takes_classes, class_layers, effective_l_y,
                                         forward_rows, is_known_name, new_branch_link, reconstruction_loss)
from neuralcollage.classes.pack import BRANCH_ARRAYS, ClassPack
from neuralcollage.classes.two_stage import TWO_STAGE_CLOSEUPS, train_closeup_branch
from neuralcollage.io import InputError

__all__ = ["METHODS", "MIN_IMAGES", "DEFAULTS", "START_MODES", "train_class", "discriminator_head"]

#: Fewest training images :func:`train_class` accepts.
MIN_IMAGES = 3
METHODS = ("nearest", "rows", "combination", "branch", "two_stage")
#: Defaults of :func:`train_class` (also shown by ``collage add-class --help``).
DEFAULTS = dict(steps=300, method="rows", batch_size=8, lr_rows=0.03, lr_z=0.03, lr_head=0.002,
                adversarial=0.0, tune_d_blocks=0, perceptual=1.0, prior=0.01, sparsity=0.001, encoder_steps=100,
                search_steps=30, closeups=0, closeup_zoom=CLOSEUP_ZOOM, branch_layer=2, branch_rank=16,
                lr_branch=0.002, anchor=1.0,
                init_class="search", search_candidates=6, search_lr_rows=0.01, closeup_variant=0,
                closeup_method="rows")
#: The methods a close-up variant can be trained with (``train_class(closeup_method=...)``).
CLOSEUP_METHODS = ("rows", "branch")
#: The ``init_class`` values that are not a class: the discriminator's choice, and the trial from every class.
START_MODES = ("nearest", "search")


def _tables(gen, k):
    """Old classes' rows per class layer: ``[(Gamma (k, C), B (k, C))]`` arrays on the generator's device."""
    return [(link.gammas.W.array[:k], link.betas.W.array[:k]) for _, link in class_layers(gen)]


def discriminator_head(dis):
    """The discriminator's unconditional linear layer as constant arrays ``(w (C,), b ())``."""
    import chainer
    link = getattr(dis, dis.linear_name)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        hooks = link.local_link_hooks
        w = hooks["SpectralNormalization"].normalize_weight(link) if "SpectralNormalization" in hooks else link.W
    w = w.array if hasattr(w, "array") else w
    b = link.b.array if link.b is not None else dis.xp.zeros((1,), numpy.float32)
    return w.reshape(-1), b.reshape(())


def train_class(bundle, images, name, *, steps=DEFAULTS["steps"], seed=0, synonyms=(), method=DEFAULTS["method"],
                batch_size=DEFAULTS["batch_size"], lr_rows=DEFAULTS["lr_rows"], lr_z=DEFAULTS["lr_z"],
                lr_head=DEFAULTS["lr_head"], adversarial=DEFAULTS["adversarial"],
                tune_d_blocks=DEFAULTS["tune_d_blocks"],
                perceptual=DEFAULTS["perceptual"], prior=DEFAULTS["prior"], sparsity=DEFAULTS["sparsity"],
                encoder_steps=DEFAULTS["encoder_steps"], init_class=DEFAULTS["init_class"],
                search_steps=DEFAULTS["search_steps"], search_candidates=DEFAULTS["search_candidates"],
                search_lr_rows=DEFAULTS["search_lr_rows"], closeups=DEFAULTS["closeups"],
                closeup_zoom=DEFAULTS["closeup_zoom"],
                branch_layer=DEFAULTS["branch_layer"], branch_rank=DEFAULTS["branch_rank"],
                lr_branch=DEFAULTS["lr_branch"], anchor=DEFAULTS["anchor"],
                closeup_variant=DEFAULTS["closeup_variant"], closeup_method=DEFAULTS["closeup_method"],
                callback=None):
    """Learn a new class from a few images; returns a :class:`ClassPack` (not saved: call ``pack.save``).

    The trainer: it learns exactly what it is asked to.  ``neuralcollage.add_class``
    (:func:`neuralcollage.collage.add_class`) calls it with a close-up variant and then checks the variant.

    Args:
        bundle: the base model (:func:`neuralcollage.pretrained.load_bundle`); not modified.  Packs already
            loaded on it are ignored (the new pack is for the base model alone).
        images: at least :data:`MIN_IMAGES` HWC uint8 RGB images of any size (see :func:`prepare_images`).
        name: the new class's name; must not name an existing class.
        steps: training steps (ignored by ``method="nearest"``).
        seed: the seed of every random choice (latent draws, batches, flips).
        synonyms: further names of the class.
        method: one of :data:`METHODS` (see the module documentation).
        batch_size: images per step (reconstruction) and generated samples per step (adversarial).
        lr_rows, lr_z, lr_head: Adam step sizes of the CBN rows (and combination weights), the per-image
            latents and the discriminator's projection row.
        adversarial: weight of the generator's adversarial loss (0: reconstruction only; needs a
            discriminator).
        tune_d_blocks: with ``adversarial > 0``, fine-tune a copy of the discriminator's top ``tune_d_blocks``
            blocks (its lower blocks and linear layer stay frozen, as in FreezeD) together with the new
            projection row; 0: only the projection row.  The copy is used in training only: the pack's
            projection row is then the start class's (the trained one belongs to the tuned copy).
        perceptual: weight of ``1 - cos`` of the discriminator's last feature maps (needs a discriminator).
        prior: weight of the latents' prior ``mean(z ** 2)``.
        sparsity: L1 weight on the combination weights (``method="combination"``).
        encoder_steps: Adam steps fitting the encoder's class row to the trained latents (when the model has
            an encoder).
        init_class: the existing class (index or name) the rows start from; ``"nearest"`` (or None):
            :func:`nearest_class` (the discriminator's class scores); ``"search"`` (default): train
            ``search_steps`` steps from every old class (reconstruction only, the same batches) and start from
            the one with the lowest final reconstruction loss (the main training is then the same as with that
            class given; it costs about ``search_steps * K / steps`` more time). The default is the search
            because it measured better (docs/few_shot.md: koala 94.2% judged from the searched start, 64.5%
            from the nearest class).
        search_steps: steps per class of ``init_class="search"``.
        search_candidates: the search tries only this many classes, those the discriminator scores highest
            (:func:`class_ranking`; all six of the built-in model, 6 of the 143 of ``dogcat256``).
        search_lr_rows: the rows' Adam step size in the search's trials (smaller than ``lr_rows``: with the
            training's 0.03 the 30-step trials picked cat for five koala renders that start best from panda;
            docs/few_shot.md "Step size of the rows").
        closeups: close-ups per training image added to the training set (:func:`closeup_crops`: a random
            square window of the image, enlarged ``closeup_zoom`` times, the framing an edit of a part sends to
            the generator); each gets its own latent and is reconstructed like the images.  0: whole images only.
            The search (``init_class="search"``) uses the whole images only.  With ``method="two_stage"``: the
            close-ups of its second stage only (0: :data:`TWO_STAGE_CLOSEUPS`).
        closeup_zoom: ``(low, high)`` enlargement of the close-ups (uniform), each >= 1.
        branch_layer, branch_rank, lr_branch: ``method="branch"``: the blend layer after which the branch
            acts (1 .. ``n_blocks``; 2 is the 16x16 features of the built-in model), its hidden channels and its
            Adam step size.  Its output convolution starts at zero, so training starts from the rows alone.
            The same for ``method="two_stage"``'s branch.
        anchor: ``method="two_stage"``: weight of the second stage's anchor, the L1 distance between the new
            class's samples of fresh random latents and the first stage's
            (:func:`neuralcollage.classes.two_stage.train_closeup_branch`).
        closeup_variant: close-ups per training image of the class's **close-up variant** (0: none): after the
            class itself, a second set of rows (``closeup_method="rows"``, the default) or rows and a per-class
            branch (``"branch"``: ``method="branch"`` with ``branch_layer``/``branch_rank``/``lr_branch`` as
            above) is learnt from the same start class, ``steps`` steps, on the images and ``closeup_variant``
            close-ups of each (:func:`closeup_crops`, ``closeup_zoom``).  The pack carries it
            (:attr:`ClassPack.closeup`); edits of a part of a photo draw the class with it
            (:func:`neuralcollage.collage.edit_photo`), everything else with the class's own rows.  It exists
            because one set of rows cannot serve both framings: trained on whole faces, the class draws a
            small whole face inside a part's close-up (docs/few_shot.md).  Rows alone measured as well as with
            the branch on the koala and lost the tiger fewer parts (docs/few_shot.md, "Which classes need the
            variant").
        closeup_method: one of :data:`CLOSEUP_METHODS`, how the close-up variant is learnt.
        callback: ``callback(step, loss)`` after every step (e.g. a progress bar); ``loss`` is the
            reconstruction loss (L1 plus the weighted perceptual term).  ``method="two_stage"`` calls it for
            the steps of both stages (``step`` counts from 0 in each); the close-up variant's steps follow the
            class's (``step`` from ``steps`` to ``2 * steps - 1``).

    Raises:
        InputError: too few or malformed images, an empty name or one the model already has, bad options.
        ClassPackError: a model that cannot take classes (BigGAN-deep).
    """
    import chainer
    import chainer.functions as F
    from neuralcollage.backend import random_state, to_numpy
    from neuralcollage.io import to_model
    from neuralcollage.links import fastconv

    check_takes_classes(bundle)
    name = str(name).strip()
    synonyms = tuple(str(s).strip() for s in synonyms if str(s).strip())
    if not name:
        raise InputError("the new class needs a name")
    for s in (name,) + synonyms:
        if is_known_name(bundle.vocabulary, s):
            raise InputError(f"model {base_name(bundle)} already has a class named {s!r}; choose another name")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if closeup_method not in CLOSEUP_METHODS:
        raise InputError(f"unknown closeup_method {closeup_method!r}; choose one of {', '.join(CLOSEUP_METHODS)}")
    if int(closeup_variant) < 0 or (int(closeup_variant) and method == "nearest"):
        raise InputError("closeup_variant must be >= 0 (close-ups per image), and 0 with method 'nearest' "
                         "(which trains nothing)")
    images = list(images)
    if len(images) < MIN_IMAGES:
        raise InputError(f"{len(images)} training image{'s' if len(images) != 1 else ''} given; adding a class "
                         f"needs at least {MIN_IMAGES} (10 or more work better)")
    if int(steps) < 0 or int(batch_size) < 1:
        raise InputError("steps must be >= 0 and batch_size >= 1")
    gen, dis, enc = bundle.generator, bundle.discriminator, bundle.encoder
    if method in ("branch", "two_stage") and not (1 <= int(branch_layer) <= gen.n_blocks and int(branch_rank) >= 1):
        raise InputError(f"branch_layer must be between 1 and the generator's {gen.n_blocks} blocks and "
                         f"branch_rank >= 1")
    if method == "two_stage":
        if not float(anchor) >= 0:
            raise InputError(f"anchor must be >= 0; got {anchor}")
        options = dict(batch_size=batch_size, lr_rows=lr_rows, lr_z=lr_z, perceptual=perceptual, prior=prior)
        stage1 = train_class(bundle, images, name, steps=steps, seed=seed, synonyms=synonyms, method="rows",
                             lr_head=lr_head, adversarial=adversarial, tune_d_blocks=tune_d_blocks,
                             encoder_steps=encoder_steps, init_class=init_class, search_steps=search_steps,
                             search_candidates=search_candidates, search_lr_rows=search_lr_rows, closeups=0,
                             callback=callback, **options)
        pack = train_closeup_branch(bundle, stage1, images, steps=int(steps), seed=seed,
                                    closeups=int(closeups) or TWO_STAGE_CLOSEUPS, closeup_zoom=closeup_zoom,
                                    anchor=float(anchor), branch_layer=int(branch_layer),
                                    branch_rank=int(branch_rank), lr_branch=lr_branch, callback=callback,
                                    **options)
        if int(closeup_variant):
            pack.record["closeup_variant"] = int(closeup_variant)
            pack.closeup = _closeup_variant(
                bundle, images, name, bundle.vocabulary.index(pack.record["init_class"]),
                per_image=int(closeup_variant), method=closeup_method, zoom=closeup_zoom, steps=int(steps),
                seed=seed, branch_layer=branch_layer, branch_rank=branch_rank, lr_branch=lr_branch, callback=callback,
                **options)
        return pack
    base = base_record(bundle)
    k = base["n_classes"]
    if adversarial > 0 and dis is None:
        adversarial = 0.0
    if perceptual > 0 and dis is None:
        perceptual = 0.0
    tuned = None
    if int(tune_d_blocks) and adversarial > 0:
        if not 0 < int(tune_d_blocks) <= len(dis.blocks):
            raise InputError(f"tune_d_blocks must be between 0 and the discriminator's {len(dis.blocks)} blocks")
        tuned = _TunedTop(dis, int(tune_d_blocks))
    crops = prepare_images(images, gen.resolution)
    whole = crops
    if int(closeups) > 0:
        crops = numpy.concatenate([crops, closeup_crops(images, gen.resolution, per_image=int(closeups),
                                                        zoom=closeup_zoom, seed=seed)])
    x_np = to_model(crops)
    n = x_np.shape[0]
    search = None
    search_started = time.perf_counter()
    if method == "nearest" and init_class == "search":
        init_class = "nearest"  # no training: the baseline copies the discriminator's choice
    if init_class == "search":
        if int(search_candidates) < 1:
            raise InputError("search_candidates must be >= 1")
        candidates = sorted(int(c) for c in class_ranking(bundle, x_np)[:int(search_candidates)])
        search = _search_init(bundle, images, name, candidates, seed=seed, steps=int(search_steps),
                              batch_size=batch_size, lr_rows=search_lr_rows, lr_z=lr_z, perceptual=perceptual,
                              prior=prior)
        init = min(search, key=search.get)
    elif init_class is None or init_class == "nearest":
        init = nearest_class(bundle, x_np)
    elif isinstance(init_class, str):
        init = bundle.vocabulary.index(init_class)
    else:
        init = int(init_class)
    if not 0 <= init < k:
        raise InputError(f"init_class must be one of the base model's {k} classes")
    rng = random_state(seed)
    layers = class_layers(gen)
    tables = _tables(gen, k)
    device = gen.device
    xp = gen.xp
    x = device.send(x_np)
    search_seconds = time.perf_counter() - search_started
    started = time.perf_counter()
    record = {"method": method, "steps": int(steps) if method != "nearest" else 0, "seed": int(seed),
              "n_images": n, "init_class": bundle.vocabulary.names[init], "batch_size": int(batch_size),
              "lr_rows": lr_rows, "lr_z": lr_z, "lr_head": lr_head, "adversarial": float(adversarial),
              "perceptual": float(perceptual), "prior": float(prior),
              **({"tune_d_blocks": int(tune_d_blocks)} if tuned is not None else {}),
              "images_sha256": [hashlib.sha256(c.tobytes()).hexdigest() for c in whole], "losses": []}
    record.update(n_images=len(whole), closeups=int(closeups))
    if int(closeups) > 0:
        record["closeup_zoom"] = [float(v) for v in closeup_zoom]
    if method == "combination":
        record["sparsity"] = float(sparsity)
    if method == "branch":
        record.update(branch_layer=int(branch_layer), branch_rank=int(branch_rank), lr_branch=float(lr_branch))
    if search is not None:
        record["init_search"] = {"steps": int(search_steps), "lr_rows": float(search_lr_rows),
                                 "seconds": round(search_seconds, 2),
                                 "losses": {bundle.vocabulary.names[c]: round(v, 5) for c, v in search.items()}}

    # trainable state
    class _State(chainer.Link):
        pass

    rows_link, z_link, head_link, branch_link = _State(), _State(), _State(), _State()
    branch = None
    if method == "branch":
        from neuralcollage.models.generator import ClassBranch
        branch_link = new_branch_link(gen, branch_layer, branch_rank, seed, device)
        branch = ClassBranch(int(branch_layer), branch_link.w1, branch_link.b1, branch_link.w2, branch_link.b2)
    with rows_link.init_scope():
        if method == "combination":
            weights = numpy.zeros(k, numpy.float32)
            weights[init] = 1.0
            rows_link.mix = chainer.Parameter(xp.asarray(numpy.tile(weights, (len(layers), 1))))
            for i, (g, bt) in enumerate(tables):
                setattr(rows_link, f"dg{i}", chainer.Parameter(xp.zeros(g.shape[1], numpy.float32)))
                setattr(rows_link, f"db{i}", chainer.Parameter(xp.zeros(bt.shape[1], numpy.float32)))
        else:
            for i, (g, bt) in enumerate(tables):
                setattr(rows_link, f"g{i}", chainer.Parameter(g[init].copy()))
                setattr(rows_link, f"b{i}", chainer.Parameter(bt[init].copy()))
    if enc is not None:
        z0 = enc.encode(crops, numpy.full(n, init, numpy.int32))
    else:
        z0 = rng.standard_normal((n, gen.dim_z)).astype(numpy.float32) * 0.5
    with z_link.init_scope():
        z_link.z = chainer.Parameter(device.send(z0.astype(numpy.float32)))
    d_row0 = None
    if dis is not None:
        d_row0 = effective_l_y(dis)[init].astype(numpy.float32)
        with head_link.init_scope():
            head_link.r = chainer.Parameter(dis.device.send(d_row0.copy()))

    def rows():
        if method == "combination":
            out = []
            for i, (g, bt) in enumerate(tables):
                w = F.reshape(rows_link.mix[i], (1, k))
                out.append((F.reshape(F.matmul(w, g), (-1,)) + getattr(rows_link, f"dg{i}"),
                            F.reshape(F.matmul(w, bt), (-1,)) + getattr(rows_link, f"db{i}")))
            return out
        return [(getattr(rows_link, f"g{i}"), getattr(rows_link, f"b{i}")) for i in range(len(tables))]

    optimizers = []
    for link, lr in ((rows_link, lr_rows), (z_link, lr_z), (head_link, lr_head), (branch_link, lr_branch)):
        if any(True for _ in link.params()):
            opt = chainer.optimizers.Adam(alpha=lr, beta1=0.5, beta2=0.999)
            opt.setup(link)
            optimizers.append(opt)
    if tuned is not None:
        opt = chainer.optimizers.Adam(alpha=lr_head, beta1=0.5, beta2=0.999)
        opt.setup(tuned.top)
        optimizers.append(opt)

    train_steps = 0 if method == "nearest" else int(steps)
    with chainer.using_config("train", False), fastconv.constant_parameters():
        phi_real = f_real = f_real_flip = None
        if dis is not None:
            with chainer.no_backprop_mode():
                phi_real = dis.feature_vector(x).array
                if adversarial > 0:
                    f_real = F.sum(dis.features(x), axis=(2, 3)).array
                    f_real_flip = F.sum(dis.features(x[:, :, :, ::-1]), axis=(2, 3)).array
                if tuned is not None:
                    h_real, h_real_flip = tuned.low(x).array, tuned.low(x[:, :, :, ::-1]).array
            w_lin, b_lin = discriminator_head(dis)
        for step in range(train_steps):
            for link in (rows_link, z_link, head_link, branch_link):
                link.cleargrads()
            idx = rng.choice(n, size=min(int(batch_size), n), replace=False)
            idx_dev = device.send(idx.astype(numpy.int32))
            r = rows()
            zb = F.get_item(z_link.z, idx_dev)
            fake = forward_rows(gen, zb, r, branch)
            xb = x[idx_dev]
            loss, parts = reconstruction_loss(dis, fake, xb, None if phi_real is None else phi_real[idx_dev],
                                              perceptual=perceptual)
            if prior > 0:
                loss = loss + prior * F.mean(zb * zb)
            if method == "combination" and sparsity > 0:
                loss = loss + sparsity * F.sum(F.absolute(rows_link.mix))
            late = None
            if tuned is not None:
                zr = device.send(rng.standard_normal((int(batch_size), gen.dim_z)).astype(numpy.float32))
                h_fake = tuned.low(forward_rows(gen, zr, r, branch))
                f_fake = tuned.head(h_fake)
                rv = head_link.r
                w_col = xp.asarray(w_lin)[:, None]
                loss_g = -F.mean(F.matmul(f_fake, w_col)[:, 0] + b_lin + F.matmul(f_fake, rv.array[:, None])[:, 0])
                loss = loss + adversarial * loss_g
                parts["adv_g"] = float(loss_g.array)
                flips = device.send(rng.randint(0, 2, size=len(idx)).astype(bool))

                def late():
                    tuned.top.cleargrads()
                    head_link.cleargrads()
                    hr = xp.where(flips[:, None, None, None], h_real_flip[idx_dev], h_real[idx_dev])
                    fr, ff = tuned.head(hr), tuned.head(h_fake.array)
                    col = F.reshape(head_link.r, (-1, 1))
                    score_real = F.matmul(fr, w_col)[:, 0] + b_lin + F.matmul(fr, col)[:, 0]
                    score_fake = F.matmul(ff, w_col)[:, 0] + b_lin + F.matmul(ff, col)[:, 0]
                    loss_d = F.mean(F.relu(1.0 - score_real)) + F.mean(F.relu(1.0 + score_fake))
                    loss_d.backward()
                    parts["adv_d"] = float(loss_d.array)
            elif adversarial > 0:
                zr = device.send(rng.standard_normal((int(batch_size), gen.dim_z)).astype(numpy.float32))
                gen_fake = forward_rows(gen, zr, r, branch)
                f_fake = F.sum(dis.features(gen_fake), axis=(2, 3))
                rv = head_link.r
                score_g = F.matmul(f_fake, xp.asarray(w_lin)[:, None])[:, 0] + b_lin + F.matmul(f_fake, rv.array[:, None])[:, 0]
                loss_g = -F.mean(score_g)
                flips = rng.randint(0, 2, size=len(idx)).astype(bool)
                fr = xp.where(device.send(flips)[:, None], f_real_flip[idx_dev], f_real[idx_dev])
                score_real = fr @ w_lin + b_lin + F.matmul(fr, F.reshape(rv, (-1, 1)))[:, 0]
                ff = f_fake.array
                score_fake = ff @ w_lin + b_lin + F.matmul(ff, F.reshape(rv, (-1, 1)))[:, 0]
                loss_d = F.mean(F.relu(1.0 - score_real)) + F.mean(F.relu(1.0 + score_fake))
                loss = loss + adversarial * loss_g + loss_d
                parts["adv_g"], parts["adv_d"] = float(loss_g.array), float(loss_d.array)
            loss.backward()
            if late is not None:  # the tuned discriminator learns from its own loss only
                late()
            for opt in optimizers:
                opt.update()
            value = parts["l1"] + perceptual * parts.get("perceptual", 0.0)
            if step % 10 == 0 or step == train_steps - 1:
                record["losses"].append({"step": step, "reconstruction": round(value, 5),
                                         **{k2: round(v, 5) for k2, v in parts.items()}})
            if callback is not None:
                callback(step, value)

        with chainer.no_backprop_mode():
            final = [(to_numpy(g.array).astype(numpy.float32), to_numpy(bt.array).astype(numpy.float32))
                     for g, bt in rows()]
    generator_rows = {lname: final[i] for i, (lname, _) in enumerate(layers)}
    if method == "combination":
        record["combination"] = to_numpy(rows_link.mix.array).round(4).tolist()
    d_row = None
    if dis is not None:
        trained_row = train_steps and adversarial > 0 and tuned is None
        d_row = to_numpy(head_link.r.array).astype(numpy.float32) if trained_row else d_row0
    e_row = None
    if enc is not None:
        e_row = _fit_encoder_row(enc, crops, to_numpy(z_link.z.array), init, k,
                                 steps=int(encoder_steps) if train_steps else 0, seed=seed)
    record["seconds"] = round(time.perf_counter() - started, 2)  # training; the search's are in init_search
    record["total_seconds"] = round(time.perf_counter() - search_started, 2)
    pack_branch = None
    if branch is not None:
        pack_branch = {"layer": int(branch_layer), **{key: to_numpy(getattr(branch_link, key).array).astype(
            numpy.float32) for key in BRANCH_ARRAYS}}
    closeup = None
    if int(closeup_variant):
        record["closeup_variant"] = int(closeup_variant)
        closeup = _closeup_variant(bundle, images, name, init, per_image=int(closeup_variant),
                                   method=closeup_method, zoom=closeup_zoom, steps=int(steps), seed=seed,
                                   branch_layer=branch_layer, branch_rank=branch_rank,
                                   lr_branch=lr_branch, callback=callback, batch_size=batch_size, lr_rows=lr_rows,
                                   lr_z=lr_z, perceptual=perceptual, prior=prior)
        record["total_seconds"] = round(time.perf_counter() - search_started, 2)  # with the variant's training
    return ClassPack(name=name, synonyms=synonyms, base=base, generator=generator_rows, discriminator=d_row,
                     encoder=e_row, record=record, branch=pack_branch, closeup=closeup)


def _closeup_variant(bundle, images, name, init, *, per_image, method, zoom, steps, seed, callback, **options):
    """The close-up variant of a class (``train_class(closeup_variant=per_image, closeup_method=method)``): rows
    (and with ``method="branch"`` a per-class branch) learnt from class ``init`` on the images and ``per_image``
    close-ups of each; ``{"generator", "branch" (None for rows), "record"}``."""
    shifted = None if callback is None else (lambda step, loss: callback(steps + step, loss))
    variant = train_class(bundle, images, name, steps=steps, seed=seed, method=method, init_class=int(init),
                          encoder_steps=0, closeups=per_image, closeup_zoom=zoom, callback=shifted, **options)
    record = {k: v for k, v in variant.record.items() if k not in ("images_sha256", "closeups")}
    record.update(closeups_per_image=int(per_image))
    return {"generator": variant.generator, "branch": variant.branch, "record": record}


class _TunedTop:
    """FreezeD: the discriminator's lower blocks (frozen, shared) and a trainable copy of its top blocks."""

    def __init__(self, dis, n_top):
        import copy
        import chainer
        blocks = dis.blocks
        self.lower = blocks[:len(blocks) - n_top]
        self.top = chainer.ChainList(*[copy.deepcopy(b) for b in blocks[len(blocks) - n_top:]])
        self.top.cleargrads()  # a copy may carry the loaded parameters' uninitialised gradient arrays

    def low(self, x):
        h = x
        for block in self.lower:
            h = block(h)
        return h

    def head(self, h):
        """``sum_hw relu(top(h))``, ``(N, C)``, with gradients reaching the copied blocks' parameters."""
        import chainer.functions as F
        from neuralcollage.links import fastconv
        with fastconv.constant_parameters(False):
            for block in self.top:
                h = block(h)
            return F.sum(F.relu(h), axis=(2, 3))


def _search_init(bundle, images, name, candidates, *, seed, steps, **kwargs):
    """Final reconstruction loss of a short reconstruction-only run from each candidate class: {class: loss}
    (in ``candidates``' order; the first lowest wins)."""
    out = {}
    for c in candidates:
        pack = train_class(bundle, images, name, steps=max(int(steps), 1), seed=seed, method="rows", adversarial=0.0,
                           encoder_steps=0, init_class=c, **kwargs)
        out[c] = float(pack.record["losses"][-1]["reconstruction"])
    return out


def _fit_encoder_row(enc, crops, z_target, init, k, *, steps, seed):
    """The encoder's class row for the new class: the nearest class's, then ``steps`` Adam steps so that
    ``E(x_i, new) ≈ z_i`` (the trained latents)."""
    import chainer
    import chainer.functions as F
    from neuralcollage.backend import to_numpy
    from neuralcollage.io import to_model
    row0 = to_numpy(enc.l_y.W.array[init]).astype(numpy.float32)
    if steps <= 0:
        return row0
    x = enc.device.send(to_model(crops))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        a = enc.l_hidden(F.reshape(enc.body(x), (x.shape[0], -1))).array
    holder = chainer.Link()
    with holder.init_scope():
        holder.e = chainer.Parameter(enc.device.send(row0.copy()))
    opt = chainer.optimizers.Adam(alpha=0.01)
    opt.setup(holder)
    target = enc.device.send(z_target)
    w_out, b_out = enc.l_out.W.array, enc.l_out.b.array
    for _ in range(steps):
        holder.cleargrads()
        h = F.relu(a + F.broadcast_to(holder.e, a.shape))
        z = F.linear(h, w_out, b_out)
        loss = F.mean_squared_error(z, target)
        loss.backward()
        opt.update()
    return to_numpy(holder.e.array).astype(numpy.float32)
