"""``python -m neuralcollage.cli``: the ``collage`` command (benchmarks run it this way)."""
import sys

from neuralcollage.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
