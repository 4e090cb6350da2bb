"""SIGINT, SIGTERM and SIGHUP as exceptions, so that ``finally`` blocks (temporary files) run on every one.

Python raises :class:`KeyboardInterrupt` on SIGINT but dies at once on SIGTERM and SIGHUP, which would leave a
half-written temporary file behind.  :func:`raising` turns the three into :class:`Interrupted` (a
``KeyboardInterrupt``) while a block runs and restores the previous handlers afterwards; only in the main
thread (elsewhere Python cannot set handlers) and only for signals whose handler is still the default, so a
program that handles them itself keeps its own.  Where the block took over a signal's default handler, the
signal is delivered again once the block's cleanup ran, so the program still dies of SIGTERM or SIGHUP.
Light: imports only ``os``, ``signal`` and ``threading``.
"""
import contextlib
import os
import signal
import threading

__all__ = ["Interrupted", "raising", "SIGNALS"]

#: The signals turned into :class:`Interrupted` (those the platform has).
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM or SIGHUP) arrived; ``signum`` says which."""

    def __init__(self, signum):
        super().__init__(f"signal {signum}")
        self.signum = signum


def _raise(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def raising(*, force=False):
    """Within the block, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`.

    Args:
        force: replace any handler (the command line's entry point); by default only the default handlers
            (``SIG_DFL``, and Python's own SIGINT handler) are replaced.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in SIGNALS:
        try:
            current = signal.getsignal(signum)
            if force or current in (signal.SIG_DFL, signal.default_int_handler):
                previous[signum] = current
                signal.signal(signum, _raise)
        except (OSError, ValueError, TypeError):
            continue
    try:
        yield
    except Interrupted as exc:
        took_default = not force and previous.get(exc.signum) == signal.SIG_DFL
        _restore(previous)
        if took_default:
            os.kill(os.getpid(), exc.signum)  # die of the signal as the program would have, cleaned up
        raise
    finally:
        _restore(previous)


def _restore(previous):
    for signum, handler in list(previous.items()):
        try:
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        except (OSError, ValueError, TypeError):
            pass
        del previous[signum]
