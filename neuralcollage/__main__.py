"""The ``collage`` console script and ``python -m neuralcollage``.

Kept apart from :mod:`neuralcollage.cli` so that a Ctrl-C while the command line is still being imported ends
with one line and status 130 instead of a traceback: this module imports nothing before the ``try``, and
``neuralcollage/__init__.py`` imports nothing heavy.  :func:`neuralcollage.cli.main` then handles SIGINT,
SIGTERM and SIGHUP itself.
"""
import sys


def main(argv=None):
    """Import and run :func:`neuralcollage.cli.main`; returns the exit status."""
    try:
        from neuralcollage.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("collage: interrupted\n")
        return 130
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
