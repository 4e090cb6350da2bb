"""Background previews: run a render after requests, in one worker thread, coalescing bursts of requests.

No widgets here: :class:`PreviewScheduler` is what :class:`neuralcollage.widgets.session.PainterSession` renders
its previews through, with or without a notebook.
"""
import threading
import time
import warnings

__all__ = ["PreviewScheduler"]


class PreviewScheduler:
    """Run ``render()`` after requests, in one background thread, coalescing bursts.

    A request made while a render runs (or while ``delay`` has not passed since the last request) does not
    start another render: one more render follows the current one.  So the latest state is always rendered,
    the work is bounded by the render rate, and the caller never blocks.

    Parameters
    ----------
    render : callable
        Called with no arguments in the worker thread (or inline when ``threaded`` is False).
    delay : float
        Quiet period in seconds after the last request before rendering (0: render at once).
    threaded : bool
        False renders synchronously inside :meth:`request` (deterministic scripts and tests).
    on_error : callable, optional
        ``on_error(exception)`` when ``render`` raises (default: a warning).
    idle_exit : float
        The worker thread ends after this many idle seconds (a later request starts a new one), so that an
        abandoned painter does not keep a thread alive.

    Examples
    --------
    Synchronously, as in scripts:

    >>> calls = []
    >>> scheduler = PreviewScheduler(lambda: calls.append("render"), threaded=False)
    >>> scheduler.request()
    >>> calls, scheduler.renders, scheduler.idle
    (['render'], 1, True)
    """

    def __init__(self, render, *, delay=0.0, threaded=True, on_error=None, idle_exit=60.0):
        self._render = render
        self.delay = float(delay)
        self.threaded = bool(threaded)
        self._on_error = on_error
        self.idle_exit = float(idle_exit)
        self._cond = threading.Condition()
        self._pending = False
        self._busy = False
        self._closed = False
        self._last_request = 0.0
        self._thread = None
        self.requests = 0
        self.renders = 0

    def __repr__(self):
        return (f"PreviewScheduler(delay={self.delay}, threaded={self.threaded}, requests={self.requests}, "
                f"renders={self.renders})")

    @property
    def idle(self):
        """True when no render is running or pending."""
        with self._cond:
            return not (self._pending or self._busy)

    def request(self):
        """Ask for a render of the current state (returns at once when threaded)."""
        if self._closed:
            raise RuntimeError("the preview scheduler is closed")
        self.requests += 1
        if not self.threaded:
            self._run()
            return
        with self._cond:
            self._pending = True
            self._last_request = time.perf_counter()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="neuralcollage-preview", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout=None):
        """Block until no render is running or pending; False on timeout."""
        if not self.threaded:
            return True
        with self._cond:
            return self._cond.wait_for(lambda: not (self._pending or self._busy) or self._closed, timeout)

    def close(self):
        """Stop the worker thread (a running render finishes first)."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _loop(self):
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._pending or self._closed, self.idle_exit):
                    self._thread = None
                    return
                while not self._closed and self.delay > 0:
                    remaining = self._last_request + self.delay - time.perf_counter()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if self._closed:
                    self._thread = None
                    self._cond.notify_all()
                    return
                self._pending = False
                self._busy = True
            try:
                self._run()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _run(self):
        try:
            self._render()
            self.renders += 1
        except Exception as exc:
            if self._on_error is not None:
                self._on_error(exc)
            else:
                warnings.warn(f"preview failed: {exc}")
