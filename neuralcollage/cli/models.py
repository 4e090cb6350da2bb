"""``collage models``, ``collage labels`` and ``collage convert``: the registry of models, class labels and
checkpoint conversion.
"""
import os

from .common import CommandError, EXIT_MODEL, EXIT_OK, Formatter, Parser, note, say
from .support import check_outputs, vocabulary


def add_models_parser(sub, common):
    """Add ``collage models`` to the subparsers ``sub``."""
    p = sub.add_parser("models", prog="collage models", parents=[common], formatter_class=Formatter,
                       help="list registered models",
                       description="The registered models, where their files go and whether they are "
                       "installed.  Official files go in $NEURALCOLLAGE_HOME/<name>/ (default "
                       "~/.cache/neuralcollage/<name>/); see neuralcollage/data/pretrained/README.md.",
                       epilog="""\
examples:
  collage models                                 # a table: name, kind, installed, folder, how to get it
  collage models --json                          # the same as JSON
  collage models --forget dogcat256              # after replacing its files on purpose
""")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--forget", metavar="NAME",
                   help="forget the sha256 recorded for an official model (after replacing its files)")
    p.set_defaults(func=cmd_models)


def add_labels_parser(sub, common):
    """Add ``collage labels`` to the subparsers ``sub``."""
    p = sub.add_parser("labels", prog="collage labels", parents=[common], formatter_class=Formatter,
                       help="list or search labels",
                       description="A model's class labels (index, name, synonyms).", epilog="""\
examples:
  collage labels                                 # the built-in model's classes
  collage labels --model dogcat256 --search retriever
""")
    p.add_argument("--model", default="builtin", metavar="NAME|PATH", help="model (default: %(default)s)")
    p.add_argument("--arch", metavar="PRESET", help="architecture of an official file given by path")
    p.add_argument("--search", metavar="TEXT", help="only classes with a synonym containing TEXT")
    p.set_defaults(func=cmd_labels)


def add_convert_parsers(sub, common):
    """Add ``collage convert`` and its biggan to the subparsers ``sub``."""
    p = sub.add_parser("convert", prog="collage convert", formatter_class=Formatter,
                       help="convert another framework's checkpoint",
                       description="Convert a checkpoint of another framework into this project's "
                       "self-describing snapshot format.", epilog="""\
examples:
  collage convert biggan ~/Downloads/biggan-deep-128 ~/.cache/neuralcollage/biggan-deep-128/generator.npz
""")
    csub = p.add_subparsers(dest="what", metavar="{biggan}", parser_class=Parser)
    csub.required = True
    q = csub.add_parser("biggan", prog="collage convert biggan", parents=[common], formatter_class=Formatter,
                        help="BigGAN-deep (pytorch-pretrained-biggan format)",
                        description="Convert a BigGAN-deep checkpoint folder in the pytorch-pretrained-biggan "
                        "format (pytorch_model.bin + config.json) into a generator snapshot that loads without "
                        "PyTorch.  Needs PyTorch (pip install 'neuralcollage[convert]').", epilog="""\
The registered models biggan-deep-128, biggan-deep-256 and biggan-deep-512 (see `collage models`) are the
checkpoints published with the pytorch-pretrained-biggan package (v0.1.1): the URLs of each name in
PRETRAINED_MODEL_ARCHIVE_MAP (weights) and PRETRAINED_CONFIG_ARCHIVE_MAP (config) of its model.py.  Download
both files, rename them to pytorch_model.bin and config.json in one folder, and convert them to
$NEURALCOLLAGE_HOME/<name>/generator.npz: its sha256 is then recorded, and every later load is verified.

BigGAN has no discriminator: `collage edit` (with --source-label) and `collage invert` (with --label) project
photos with multi-scale pixel statistics instead; `collage attribute` and `collage demo` do not work with it.

Exit status: 0 success, 2 bad input (missing folder, unwritable output), 3 checkpoint problem (missing or
unreadable files, weights that do not match config.json) or PyTorch missing.

examples:
  collage convert biggan ~/Downloads/biggan-deep-128 ~/.cache/neuralcollage/biggan-deep-128/generator.npz
  collage convert biggan my_checkpoint/ my_biggan.npz       # then --model my_biggan.npz
""")
    q.add_argument("src_dir", metavar="SRC_DIR", help="folder holding pytorch_model.bin and config.json")
    q.add_argument("out", metavar="OUT", help="the snapshot to write (.npz)")
    q.set_defaults(func=cmd_convert_biggan)


# ------------------------------------------------------------------------------------------------ models, labels

def cmd_models(args):
    import json
    from neuralcollage.pretrained import REGISTRY, forget_hashes, home_dir, list_models
    if args.forget:
        if args.forget not in REGISTRY:
            raise CommandError(f"unknown model {args.forget!r} (known: {', '.join(REGISTRY)})")
        done = forget_hashes(args.forget)
        print(f"{'forgot' if done else 'nothing recorded for'} {args.forget}")
        return EXIT_OK
    rows = list_models()
    if args.json:
        print(json.dumps([dict(name=r.name, kind=r.kind, installed=r.installed, path=r.path, notes=r.notes)
                          for r in rows], indent=2))
        return EXIT_OK
    width = max(len(r.name) for r in rows)
    print(f"{'NAME':<{width}}  {'KIND':<9}  {'INSTALLED':<9}  PATH")
    for r in rows:
        print(f"{r.name:<{width}}  {r.kind:<9}  {'yes' if r.installed else 'no':<9}  {r.path}")
        print(f"{'':<{width}}  {r.notes}")
    print(f"\nOfficial files go in $NEURALCOLLAGE_HOME/<name>/ (now {home_dir()}); "
          "see neuralcollage/data/pretrained/README.md.")
    return EXIT_OK


def cmd_labels(args):
    vocab = vocabulary(args.model, args.arch)
    if args.search is not None:
        hits = vocab.search(args.search, limit=None)
        if not hits:
            hints = vocab.suggestions(args.search)
            say(f"no label of {vocab.name} contains {args.search!r}"
                + (f"; did you mean: {', '.join(hints)}?" if hints else ""))
            return EXIT_OK
    else:
        hits = list(enumerate(vocab.names))
    for index, name in hits:
        others = [s for s in vocab.synonyms(index) if s != name]
        print(f"{index:5d}  {name}" + (f"  ({', '.join(others)})" if others else ""))
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ convert

def _registered_target(out):
    from neuralcollage.pretrained import registered_file
    return registered_file(out)


def _check_biggan_target(src_dir, out, target):
    """Refuse before converting when ``out`` is where another registered model's file lives, or where a
    BigGAN-deep of another size belongs."""
    import json
    from neuralcollage.io import InputError
    if target is None:
        return
    entry, kind = target
    if entry.convert != "biggan" or kind != "generator":
        raise InputError(f"refusing to write a converted BigGAN to {out}: that is the {kind} file of registered "
                         f"model {entry.name!r} ({entry.arch})")
    config_path = os.path.join(src_dir, "config.json")
    try:
        with open(config_path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError):
        return  # the converter reports it
    from neuralcollage.convert import biggan_config
    arch = biggan_config(raw, source=config_path)["arch"]
    if arch != entry.arch:
        what = f"a {arch}" if arch else "a BigGAN-deep of no registered size"
        raise InputError(f"{src_dir} holds {what} checkpoint (config.json), but {out} is where {entry.name} "
                         f"belongs; convert it to another file")


def cmd_convert_biggan(args):
    from neuralcollage.io import InputError
    src, out = args.src_dir, args.out
    if not os.path.exists(src):
        raise InputError(f"{src}: no such folder")
    if not os.path.isdir(src):
        raise InputError(f"{src}: not a folder (give the folder holding pytorch_model.bin and config.json)")
    if os.path.splitext(out)[1].lower() != ".npz":
        raise InputError(f"cannot write {out}: the snapshot must be a .npz file")
    inputs = [os.path.join(src, name) for name in ("pytorch_model.bin", "config.json")]
    target = _registered_target(out)
    _check_biggan_target(src, out, target)
    folder = os.path.dirname(os.path.abspath(out))
    created = target is not None and not os.path.exists(folder)
    if created:  # $NEURALCOLLAGE_HOME/<name>/ of a registered model: made here, removed again on failure
        try:
            os.makedirs(folder)
        except OSError as exc:
            raise InputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    try:
        check_outputs([(out, "npz")], [p for p in inputs if os.path.exists(p)])
        from neuralcollage.convert import convert_biggan
        say(f"converting {src} ...", quiet=args.quiet)
        try:
            result = convert_biggan(src, out)
        except ImportError as exc:
            raise CommandError(str(exc), EXIT_MODEL) from None
    except BaseException:
        if created:
            try:
                os.rmdir(folder)
            except OSError:
                pass
        raise
    config = result.config
    arch = config.get("arch") or "custom"
    print(f"wrote {result.path}")
    print(f"arch: {arch} ({2 ** len([1 for up, _, _ in config['layers'] if up]) * 4} px, "
          f"{config['n_classes']} classes, dim_z {config['dim_z']})")
    print(f"sha256: {result.sha256}")
    if target is not None:
        from neuralcollage.pretrained import record_sha256
        entry, kind = target
        note(record_sha256(entry.name, kind, result.path, result.sha256))
        print(f"installed as model {entry.name} (use --model {entry.name})")
    return EXIT_OK
