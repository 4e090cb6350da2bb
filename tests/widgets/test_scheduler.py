"""neuralcollage.widgets.scheduler: background previews that coalesce bursts of requests (no widgets)."""
import threading
import time

import pytest

from neuralcollage.widgets import PreviewScheduler


def test_scheduler_coalesces_bursts():
    calls, started, release = [], threading.Event(), threading.Event()

    def render():
        calls.append(time.perf_counter())
        started.set()
        release.wait(5)

    s = PreviewScheduler(render)
    s.request()
    assert started.wait(5)
    for _ in range(10):
        s.request()
    release.set()
    assert s.wait(5)
    assert len(calls) == 2 and s.requests == 11 and s.idle
    s.close()
    with pytest.raises(RuntimeError):
        s.request()


def test_scheduler_thread_exits_when_idle_and_restarts():
    calls = []
    s = PreviewScheduler(lambda: calls.append(1), idle_exit=0.05)
    s.request()
    assert s.wait(5)
    deadline = time.monotonic() + 5
    while s._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert s._thread is None
    s.request()
    assert s.wait(5) and len(calls) == 2
    s.close()


def test_scheduler_debounce_and_errors():
    calls, errors = [], []
    s = PreviewScheduler(lambda: calls.append(time.perf_counter()), delay=0.15, on_error=errors.append)
    t0 = time.perf_counter()
    for _ in range(3):
        s.request()
        time.sleep(0.02)
    assert s.wait(5)
    assert len(calls) == 1 and calls[0] - t0 >= 0.15
    s.close()

    def boom():
        raise RuntimeError("boom")
    s = PreviewScheduler(boom, threaded=False, on_error=errors.append)
    s.request()
    assert [str(e) for e in errors] == ["boom"]
