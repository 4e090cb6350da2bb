"""The ``collage`` command line: parse, call the library, save.

``main(argv)`` returns the exit status: 0 success, 2 bad input or usage, 3 a model problem (unknown, not
installed, corrupt, wrong architecture, checksum mismatch, unusable device), 1 anything unexpected, 130 on
Ctrl-C (143 on SIGTERM, 129 on SIGHUP; no temporary file is left).  Recipes and model files are untrusted
data (docs/untrusted_files.md): a recipe never makes the tool open a file the user did not name.  Errors are
one line on stderr, ``collage: error: ...``; ``--debug`` adds the traceback.  Every output is written atomically
and never over one of the command's input files.  Heavy modules (Chainer, the models) are imported inside the
commands so that ``collage --help`` stays fast.

One module per command group; the command modules use ``common`` and ``support`` (and the photo pipeline of
``edit``), never the dispatcher ``app``:

- ``app``: the parser assembled from the commands' parts, dispatch, error classification, signals, exit codes;
- ``common``: exit codes, messages, the parser classes, option types and the option groups commands share
  (each option defined once);
- ``support``: what commands share at run time: output checks, reading inputs, loading models, progress bars,
  calling the library;
- ``edit`` (edit, demo, the photo pipeline's run and outputs), ``attribute``, ``invert``, ``replay``,
  ``generate`` (generate, blend), ``models`` (models, labels, convert), ``evaluate`` (train, eval),
  ``stylize``, ``classes`` (add-class), ``ablate`` (ablate scbn|blend), ``axes`` (axes discover|evaluate).

This package re-exports the public names of the former single module ``cli.py``.
"""
# The public names of the former single module cli.py, re-exported.
from .app import GLOBAL_FLAGS, TOP_DESCRIPTION, TOP_EPILOG, build_parser, classify, main
from .attribute import ATTRIBUTE_EPILOG, cmd_attribute
from .classes import (ADD_CLASS_DEFAULTS, ADD_CLASS_DESCRIPTION, ADD_CLASS_EPILOG, ADD_CLASS_METHODS,
                      ADD_CLASS_MIN_IMAGES, ADD_CLASS_START_MODES, cmd_add_class)
from .common import (BLEND_MODES, DEFAULT_COLOUR_REACH, DEFAULT_CONTEXT, DEFAULT_MAX_PIXELS, EXIT_FAILURE,
                     EXIT_INPUT, EXIT_INTERRUPTED, EXIT_MODEL, EXIT_OK, INT_OPTION_MAX, SEAMS, SUBCOMMANDS,
                     CommandError, resolve_projection_steps)
from .edit import EDIT_EPILOG, before_after_png, cmd_demo, cmd_edit, examples_dir
from .evaluate import (BUILTIN_GAN_COMMAND, EVAL_DEFAULT_METRICS, EVAL_METRICS, GAN_DEFAULTS, cmd_eval,
                       cmd_train_classifier, cmd_train_encoder, cmd_train_gan, gan_command)
from .generate import Z_FILE_MAX_BYTES, cmd_blend, cmd_generate
from .invert import cmd_invert
from .models import cmd_convert_biggan, cmd_labels, cmd_models
from .replay import cmd_replay
from .stylize import STYLIZE_EPILOG, add_stylize_parser, cmd_stylize, guide_figure, read_landmarks
from .support import MetricProgress, import_attr

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILURE", "EXIT_INPUT", "EXIT_MODEL"]

# The former module's private names that tests call.
_classify = classify
_import = import_attr
_resolve_projection_steps = resolve_projection_steps
