"""``collage train`` (gan, encoder, classifier) and ``collage eval``."""
import argparse
import math
import os
import time

from .classes import ADD_CLASS_DEFAULTS, closeup_check_option, start_from_option, training_kwargs, training_options
from .common import (BlendOptions, CommandError, DEFAULT_CONTEXT, EXIT_MODEL, EXIT_OK, Formatter, Parser,
                     add_options, bounded_count, check_poisson, finite_float, fraction, gpu_id, nonnegative_int,
                     options_from_args, positive_int, ranged, say)
from .support import MetricProgress, call, check_outputs, device_id, import_attr, load


#: The defaults of :func:`neuralcollage.train.gan.train_gan` (tests check that they agree).
GAN_DEFAULTS = dict(arch="builtin64", iterations=20000, batch_size=32, n_dis=2, lr=2e-4, beta1=0.0, beta2=0.9,
                    ema_decay=0.999, seed=0, checkpoint_every=200, sample_every=500, log_every=20, time_limit=None,
                    closeups=0.0)
#: The command that trained the built-in model.
BUILTIN_GAN_COMMAND = ("collage train gan runs/builtin64 --iterations 6000 --batch-size 32 --n-dis 2 "
                       "--checkpoint-every 100 --sample-every 250 --log-every 10 --seed 0 --time-limit 5400")
_GAN_OPTIONS = ("arch", "iterations", "batch_size", "n_dis", "lr", "beta1", "beta2", "ema_decay", "seed",
                "checkpoint_every", "sample_every", "log_every", "time_limit", "closeups")


_positive_seconds = finite_float(lambda v: v > 0, "a positive number of seconds",
                                 unparsable="a number of seconds")


def _seconds(text):
    value = _positive_seconds(text)
    return int(value) if value.is_integer() else value


def add_train_parsers(sub, common):
    """Add ``collage train`` and its gan, encoder and classifier to the subparsers ``sub``."""
    p = sub.add_parser("train", prog="collage train", formatter_class=Formatter, help="train the built-in models",
                       description="Train on the built-in rendered data set; every run resumes from the "
                       "checkpoint in OUT_DIR.", epilog="""\
examples:
  collage train gan runs/builtin64 --iterations 6000
  collage train encoder runs/encoder --generator runs/builtin64/generator.npz
  collage train classifier runs/classifier --kind whole
""")
    tsub = p.add_subparsers(dest="what", metavar="{gan,encoder,classifier}", parser_class=Parser)
    tsub.required = True

    def base(name, help_, description, epilog):
        q = tsub.add_parser(name, prog=f"collage train {name}", parents=[common], formatter_class=Formatter,
                            help=help_,
                            description=description, epilog=epilog)
        q.add_argument("out_dir", metavar="OUT_DIR", help="run folder (checkpoints, snapshots, plots)")
        q.add_argument("--gpu", type=gpu_id, default=-1, metavar="ID",
                       help="CUDA device id, -1 for the CPU (default: %(default)s)")
        q.add_argument("--seed", type=ranged("seed"), default=0, help="seed (default: %(default)s)")
        q.add_argument("--time-limit", type=_seconds, metavar="SEC",
                       help="stop after checkpointing once this many seconds have passed (default: no limit)")
        q.add_argument("--distributed", action="store_true",
                       help="data-parallel over MPI processes with ChainerMN (run under mpiexec)")
        return q

    q = base("gan", "train the generator and discriminator",
             "SNGAN-projection with hinge loss, spectral norm, Adam and an EMA generator on the rendered faces.  "
             "Every option is passed to neuralcollage.train.gan.train_gan as it is; the command prints the "
             "full command line that reproduces the run.", f"""\
examples:
  {BUILTIN_GAN_COMMAND}
      # the built-in model's run: train_gan("runs/builtin64", arch="builtin64", iterations=6000,
      # batch_size=32, n_dis=2, checkpoint_every=100, sample_every=250, log_every=10, seed=0, time_limit=5400)
  collage train gan runs/quick --iterations 50 --batch-size 8 --checkpoint-every 10 --sample-every 25
""")
    q.add_argument("--arch", default="builtin64", metavar="PRESET", help="architecture (default: %(default)s)")
    q.add_argument("--iterations", type=positive_int, default=GAN_DEFAULTS["iterations"], metavar="N",
                   help="generator updates in total; a resumed run continues up to this count (default: "
                        "%(default)s)")
    q.add_argument("--batch-size", type=positive_int, default=GAN_DEFAULTS["batch_size"], metavar="N",
                   help="(default: %(default)s)")
    q.add_argument("--n-dis", type=positive_int, default=GAN_DEFAULTS["n_dis"], metavar="N",
                   help="discriminator updates per generator update (default: %(default)s)")
    q.add_argument("--lr", type=finite_float(lambda v: 0 < v <= 1, "a learning rate in (0, 1]"),
                   default=GAN_DEFAULTS["lr"], metavar="LR",
                   help="Adam step size (default: %(default)s)")
    q.add_argument("--beta1", type=finite_float(lambda v: 0 <= v < 1, "a number in [0, 1)"),
                   default=GAN_DEFAULTS["beta1"], metavar="B",
                   help="Adam beta1 (default: %(default)s)")
    q.add_argument("--beta2", type=finite_float(lambda v: 0 <= v < 1, "a number in [0, 1)"),
                   default=GAN_DEFAULTS["beta2"], metavar="B",
                   help="Adam beta2 (default: %(default)s)")
    q.add_argument("--ema-decay", type=finite_float(lambda v: 0 <= v <= 1, "a number in [0, 1]"),
                   default=GAN_DEFAULTS["ema_decay"], metavar="D",
                   help="EMA of the generator's weights, 0 for none (default: %(default)s)")
    q.add_argument("--checkpoint-every", type=positive_int, default=GAN_DEFAULTS["checkpoint_every"],
                   metavar="N", help="iterations between checkpoints and snapshots (default: %(default)s)")
    q.add_argument("--sample-every", type=positive_int, default=GAN_DEFAULTS["sample_every"], metavar="N",
                   help="iterations between sample grids (default: %(default)s)")
    q.add_argument("--log-every", type=positive_int, default=GAN_DEFAULTS["log_every"], metavar="N",
                   help="iterations between log lines (default: %(default)s)")
    q.add_argument("--closeups", type=fraction, default=GAN_DEFAULTS["closeups"], metavar="F",
                   help="fraction of the real images that are part close-ups (ears, eyes or muzzle enlarged "
                        "1.3-2.4 times) instead of whole faces (default: %(default)s)")
    q.set_defaults(func=cmd_train_gan)

    q = base("encoder", "train the projection encoder", "Train E(x, y) -> z on generated (image, z, class) "
             "triples of a trained generator, for projection initialisation.", """\
examples:
  collage train encoder runs/encoder --generator runs/builtin64/generator.npz
""")
    q.add_argument("--generator", required=True, metavar="NPZ", help="the trained generator snapshot")
    q.add_argument("--iterations", type=positive_int, metavar="N", help="(default: the trainer's)")
    q.add_argument("--batch-size", type=positive_int, metavar="N", help="(default: the trainer's)")
    q.set_defaults(func=cmd_train_encoder)

    q = base("classifier", "train the evaluation classifiers", "Train the whole-image classifier or the part "
             "classifier (part crops) on the rendered data set.", """\
examples:
  collage train classifier runs/classifier --kind whole
  collage train classifier runs/part_classifier --kind part
""")
    q.add_argument("--kind", choices=("whole", "part"), default="whole", help="(default: %(default)s)")
    q.add_argument("--iterations", type=positive_int, metavar="N", help="(default: the trainer's)")
    q.add_argument("--batch-size", type=positive_int, metavar="N", help="(default: the trainer's)")
    q.set_defaults(func=cmd_train_classifier)


def add_eval_parser(sub, common):
    """Add ``collage eval`` to the subparsers ``sub``."""
    p = sub.add_parser("eval", prog="collage eval", parents=[common], formatter_class=Formatter,
                       help="evaluate a model",
                       description="Measure a model (by default the built-in one): classifier accuracy, class "
                       "fidelity and diversity of samples, projection PSNR, part translation; print the metrics "
                       "as a table.  Metrics whose models the bundle lacks (classifier, part classifier, "
                       "discriminator) are reported as skipped.", epilog=f"""\
metrics: {', '.join(EVAL_METRICS)}

examples:
  collage eval                                   # the built-in model, the library's sample counts
  collage eval --n-samples 50 --metrics classifier_accuracy,diversity
  collage eval runs/builtin64 --out-json metrics.json
  collage eval --metrics few_shot --few-shot-images 5,10 --out-json few_shot.json
  collage eval --metrics few_shot --few-shot-images 10 --few-shot-method branch --few-shot-translation 100
""")
    p.add_argument("model", nargs="?", default="builtin", metavar="MODEL",
                   help="registered model name, generator .npz or folder (default: %(default)s)")
    p.add_argument("--arch", metavar="PRESET", help="architecture of official snapshot files given by path")
    p.add_argument("--out-json", metavar="JSON", help="also write the metrics here")
    p.add_argument("--n-samples", type=bounded_count, metavar="N",
                   help="sample count of every metric (held-out faces, generated samples, projections, "
                        "translations; diversity: per class) (default: the library's, 600/600/20/100, 50 per "
                        "class)")
    p.add_argument("--metrics", type=_metric_list, metavar="LIST",
                   help="comma-separated metrics to run (default: all but few_shot)")
    p.add_argument("--steps", type=bounded_count, metavar="N",
                   help="projection steps of the projection and translation metrics (default: the library's)")
    p.add_argument("--part-region-grow", type=finite_float(lambda v: 0 <= v < 0.5, "a number >= 0 and < 0.5"),
                   metavar="F",
                   help="part translation edits the part's mask grown by this fraction of the photo side "
                        "(0: the exact mask) (default: the library's, 0.08)")
    p.add_argument("--part-context", type=fraction, metavar="F",
                   help="part translation: how far the target class reaches beyond the region inside the "
                        "generator (`collage edit --context`) (default: the edit's, %s)" % DEFAULT_CONTEXT)
    add_options(p, BlendOptions, prefix="part-", unset=True, help_prefix="part translation (as `collage edit`): ",
                default_text=lambda name, value: f"the edit's, {BlendOptions.default_text(name, value)}")
    g = p.add_argument_group("few_shot (not run by default: it trains one class pack per species and image "
                             "count, minutes each on a CPU)")
    g.add_argument("--few-shot-species", type=_name_list, metavar="LIST",
                   help="comma-separated species the model never saw, drawn by the renderer (default: the "
                        "library's, koala,tiger)")
    g.add_argument("--few-shot-images", type=_count_list, metavar="LIST",
                   help="comma-separated training-image counts, one pack each (default: the library's, 5,10,25)")
    g.add_argument("--few-shot-steps", type=nonnegative_int, metavar="N",
                   help=f"training steps per pack (default: add-class's, {ADD_CLASS_DEFAULTS['steps']})")
    start_from_option(g, "--few-shot-start-from")
    training_options(g, "--few-shot-")
    closeup_check_option(g, "--few-shot-")
    g.add_argument("--few-shot-translation", type=nonnegative_int, metavar="N",
                   help="also translate a part of N held-out faces into each class learnt from 10 images (or the "
                        "largest count), judged by the 8-species part judge (default: the library's, 0: off)")
    g.add_argument("--few-shot-packs", metavar="DIR",
                   help="keep the packs in DIR (a pack already there trained on the same renders, steps and "
                        "seed is reused)")
    p.add_argument("--seed", type=ranged("seed"), default=0, help="seed (default: %(default)s)")
    p.add_argument("--gpu", type=gpu_id, default=-1, metavar="ID", help="CUDA device id (default: %(default)s)")
    p.set_defaults(func=cmd_eval)


EVAL_METRICS = ("classifier_accuracy", "part_classifier_accuracy", "conditioned_class_accuracy", "diversity",
                "projection_psnr", "part_translation", "reconstruction_psnr", "few_shot")
#: What ``--metrics`` runs when not given: everything but few_shot (neuralcollage.analysis.evaluation.METRICS).
EVAL_DEFAULT_METRICS = EVAL_METRICS[:-1]


def _name_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return tuple(dict.fromkeys(names))


def _count_list(text):
    try:
        counts = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        counts = []
    if not counts or any(not 1 <= c <= 10_000 for c in counts):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return tuple(dict.fromkeys(counts))


def _metric_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in EVAL_METRICS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {', '.join(unknown) or repr(text)}; choose from "
                                         f"{', '.join(EVAL_METRICS)}")
    return tuple(dict.fromkeys(names))


def _train_common(args):
    common = dict(device=device_id(args.gpu), progress=False if args.quiet else None,
                  distributed=True if args.distributed else None)
    if args.what != "gan":
        common.update(seed=args.seed, time_limit=args.time_limit)
    return common


def gan_command(out_dir, *, gpu=-1, distributed=False, **options):
    """The ``collage train gan`` command line that calls ``train_gan(out_dir, **options)`` (every option
    spelled out, so that it reproduces the run whatever the defaults become)."""
    import shlex
    unknown = sorted(set(options) - set(_GAN_OPTIONS))
    if unknown:
        raise ValueError(f"train_gan options without a command-line flag: {unknown}")
    words = ["collage", "train", "gan", str(out_dir)]
    for key in _GAN_OPTIONS:
        value = options.get(key, GAN_DEFAULTS[key])
        if value is not None:
            words += ["--" + key.replace("_", "-"), repr(value) if isinstance(value, float) else str(value)]
    if gpu is not None and gpu >= 0:
        words += ["--gpu", str(gpu)]
    if distributed:
        words.append("--distributed")
    return " ".join(shlex.quote(w) for w in words)


def cmd_train_gan(args):
    train_gan = import_attr("neuralcollage.train.gan", "train_gan")
    options = {key: getattr(args, key) for key in _GAN_OPTIONS}
    command = gan_command(args.out_dir, gpu=args.gpu, distributed=args.distributed, **options)
    say(f"command: {command}", quiet=args.quiet)
    reached = call(train_gan, args.out_dir, **options, **_train_common(args))
    print(f"trained to iteration {reached}; snapshots in {args.out_dir}; command: {command}")
    return EXIT_OK


def cmd_train_encoder(args):
    train_encoder = import_attr("neuralcollage.train.encoder", "train_encoder")
    if not os.path.isfile(args.generator):
        raise CommandError(f"{args.generator}: no such file", EXIT_MODEL)
    call(train_encoder, args.out_dir, generator_path=args.generator, iterations=args.iterations,
         batch_size=args.batch_size, **_train_common(args))
    print(f"encoder training done; snapshots in {args.out_dir}")
    return EXIT_OK


def cmd_train_classifier(args):
    train_classifier = import_attr("neuralcollage.train.classifier", "train_classifier")
    call(train_classifier, args.out_dir, kind=args.kind, iterations=args.iterations, batch_size=args.batch_size,
         **_train_common(args))
    print(f"{args.kind} classifier training done; snapshots in {args.out_dir}")
    return EXIT_OK


def _print_metrics(metrics, prefix=""):
    for key, value in metrics.items():
        if isinstance(value, dict):
            _print_metrics(value, prefix=f"{prefix}{key}.")
        elif isinstance(value, float):
            print(f"  {prefix + key:<40} {value:.4f}")
        else:
            print(f"  {prefix + key:<40} {value}")


def _eval_counts(n):
    """The sample-count options of :func:`neuralcollage.analysis.evaluation.evaluate` for ``--n-samples n``."""
    if n is None:
        return {}
    return dict(n_classifier=n, n_generated=n, n_diversity=n, n_projection=n, n_translation=n, n_reconstruction=n)


def _json_safe(value):
    """Metrics as strict JSON: NumPy scalars and arrays to Python, NaN and infinities to None."""
    import numpy
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, numpy.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, numpy.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _few_shot_counts(n):
    """The sample-count options of :func:`neuralcollage.analysis.few_shot.evaluate_few_shot` for ``--n-samples n``."""
    if n is None:
        return {}
    return dict(n=n, n_diversity=max(2, min(50, n)), n_old=min(100, n))


def _part_blend(args):
    """The ``--part-*`` blend flags as :class:`~neuralcollage.options.BlendOptions`, None when none is given."""
    if all(getattr(args, "part_" + name) is None for name in BlendOptions.names()):
        return None
    return options_from_args(BlendOptions, args, prefix="part_")


def cmd_eval(args):
    from neuralcollage.io import InputError
    evaluate = import_attr("neuralcollage.analysis.evaluation", "evaluate")
    names = args.metrics if args.metrics is not None else EVAL_DEFAULT_METRICS
    few_shot = "few_shot" in names
    given = [flag for flag, value in (("--few-shot-species", args.few_shot_species),
                                      ("--few-shot-images", args.few_shot_images),
                                      ("--few-shot-steps", args.few_shot_steps),
                                      ("--few-shot-translation", args.few_shot_translation),
                                      ("--few-shot-packs", args.few_shot_packs)) if value is not None]
    if args.few_shot_start_from != ADD_CLASS_DEFAULTS["init_class"]:
        given.append("--few-shot-start-from")
    training = training_kwargs(args, "few_shot_")
    given += ["--few-shot-" + k.replace("_", "-") for k in training]
    if args.few_shot_keep_closeup_variant:
        given.append("--few-shot-keep-closeup-variant")
    if given and not few_shot:
        raise InputError(f"{', '.join(given)}: only for --metrics few_shot")
    inputs = [args.model] if os.path.exists(args.model) else []
    check_poisson(args.part_seam, args.part_colour_reach, args.part_blend_mode, "--part-blend-mode",
                  prefix="--part-")
    if args.out_json:
        check_outputs([(args.out_json, "json")], inputs)
    bundle = load(args.model, args.arch, args.gpu)
    started = time.time()

    def log(name, record):
        if "skipped" in record:
            say(f"eval: {name} skipped ({record['skipped']})", quiet=args.quiet)
        else:
            say(f"eval: {name} done ({time.time() - started:.0f} s so far)", quiet=args.quiet)

    progress = MetricProgress(enabled=not args.quiet)
    standard = None if args.metrics is None else tuple(n for n in names if n != "few_shot")
    metrics = {}
    try:
        if standard is None or standard:
            metrics = call(evaluate, bundle, metrics=standard, steps=args.steps, grow=args.part_region_grow,
                           context=args.part_context,
                           blend_options=_part_blend(args), seed=args.seed, log=log,
                           progress=progress, **_eval_counts(args.n_samples))
    finally:
        progress.close()
    if few_shot:
        evaluate_few_shot = import_attr("neuralcollage.analysis.few_shot", "evaluate_few_shot")

        def log_pack(row):
            say(f"eval: few_shot {row['species']} {row['n_images']} images: judged {row['judged']:.1%}, "
                f"diversity {row['diversity']:.2f}, started from {row['init_class']} "
                f"({time.time() - started:.0f} s so far)", quiet=args.quiet)

        metrics["few_shot"] = call(evaluate_few_shot, bundle, species=args.few_shot_species,
                                   counts=args.few_shot_images, steps=args.few_shot_steps,
                                   init_class=args.few_shot_start_from, pack_dir=args.few_shot_packs,
                                   n_translation=args.few_shot_translation, translation_steps=args.steps,
                                   seed=args.seed, log=log_pack, closeup_check=not args.few_shot_keep_closeup_variant,
                                   **_few_shot_counts(args.n_samples), **training)
        log("few_shot", metrics["few_shot"])
    print(f"metrics of {bundle.name} (seed {args.seed}):")
    try:
        from neuralcollage.analysis.evaluation import format_table
        print(format_table(metrics))
    except Exception:  # noqa: BLE001: another result layout; print it plainly
        _print_metrics(metrics)
    if few_shot:
        from neuralcollage.analysis.few_shot import format_few_shot
        print(format_few_shot(metrics["few_shot"]))
    if args.out_json:
        from neuralcollage.io import atomic_write_json
        report = {"model": bundle.name, "arch": bundle.arch, "sha256": dict(bundle.sha256), "seed": args.seed,
                  "n_samples": args.n_samples, "steps": args.steps,
                  "part_region_grow": args.part_region_grow, "part_context": args.part_context,
                  "part_blend_mode": args.part_blend_mode, "part_dilate": args.part_dilate,
                  "part_seam": args.part_seam, "part_colour_reach": args.part_colour_reach,
                  "few_shot_species": args.few_shot_species, "few_shot_images": args.few_shot_images,
                  "few_shot_steps": args.few_shot_steps, "few_shot_start_from": args.few_shot_start_from,
                  "few_shot_packs": args.few_shot_packs, "few_shot_translation": args.few_shot_translation,
                  "few_shot_training": training,
                  "seconds": time.time() - started,
                  "metrics": metrics}
        atomic_write_json(args.out_json, _json_safe(report), overwrite_protect=inputs)
        print(f"wrote {args.out_json}")
    return EXIT_OK
