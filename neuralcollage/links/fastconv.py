"""CPU fast path for the convolutions, resampling and test-mode batch norms of generators and discriminators.

Every function here computes the same maths as the Chainer composition it replaces (up to float32 rounding;
:func:`batch_norm_relu` is bit-identical) and is used automatically on NumPy arrays only: CuPy arrays always
take the standard Chainer functions (cuDNN). ``ENABLED = False`` switches the fast path off everywhere.

What is faster, and why:

* 3x3 convolutions (stride 1, pad 1) run on a zero-padded copy of the input whose rows keep two extra
  columns, so every kernel tap is a plain offset into it: the im2col matrix is built in strips of a few MB
  (kept in cache) by contiguous copies, in the weights' own ``(C, ky, kx)`` order, and multiplied with no
  transposed copy. 1x1 convolutions are matrix products with no copy at all.
* :func:`upsample_convolution_2d` is ``conv3x3(upsample_nearest(x))`` computed on the low-resolution input:
  each of the four output phases is a 2x2 convolution with summed weights (2.25x fewer FLOPs).
* :func:`convolution_2d_avgpool` is ``average_pooling_2d(conv3x3(x), 2)`` computed as 2x2 convolutions of
  the input's four polyphase components with summed weights (2.25x fewer FLOPs). It is the adjoint of the
  previous one: each computes the other's input gradient.
* :func:`upsample_add` (``h + upsample_nearest(s)``) lets a generator block's 1x1 shortcut run before the
  upsampling (4x fewer FLOPs); :func:`average_pooling_2x2` lets a discriminator block's shortcut run after
  the pooling.
* :func:`batch_norm_relu` is test-mode (s)CBN followed by ReLU in one pass-saving function.
* The kernels split their work (im2col strips, row blocks, channel ranges of the element-wise passes)
  over ``WORKERS`` threads that run single-threaded BLAS and take the next piece as they become free: one
  synchronisation per function instead of one per matrix product, and no spinning BLAS threads. The
  result chunks are cropped (and interleaved, for the phases) into the output by the thread that computed
  them, while they are in cache.

Every function has a backward pass with respect to all its inputs (input, weights, bias, gamma, beta),
computed with the same kernels (first order only: no double backprop).

Inside ``with constant_parameters():`` the links of this package pass their parameters as constants, so
no parameter gradient is computed (projection only needs the gradient with respect to z), and derived
weights (summed phase weights, flipped transposed weights, spectrally normalised weights) are computed
once and reused until the outermost context exits (for ``collage256`` G and D about 0.45 GB). Parameters must
not be modified inside the context.
"""
from neuralcollage import _compat  # noqa: F401

import contextlib
import itertools
import os
import threading
import weakref

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import function_node
from chainer.utils import conv as conv_utils

ENABLED = True

#: Bytes of one im2col strip (a strip that stays in cache multiplies faster than one big buffer).
COL_BYTES = 4 << 20

#: Input pixels (h * w) below which :func:`upsample_convolution_2d` upsamples and convolves directly (at
#: tiny resolutions summing the phase weights costs more than the FLOPs it saves, unless they are cached).
PHASE_MIN_PIXELS = 64

#: Threads of the fast kernels; None: as many as BLAS would use. The kernels split their work themselves
#: and keep BLAS single-threaded meanwhile (needs ``threadpoolctl``; without it, or with 1, they run serially
#: and BLAS threads itself).
WORKERS = None

#: Element count below which an element-wise pass is not split over threads, and multiply-add count below
#: which a matrix product is not (handing work to a thread costs more than such small jobs).
PARALLEL_MIN_SIZE = 1 << 18
PARALLEL_MIN_WORK = 1 << 22

_CONFIG_KEY = "neuralcollage_constant_parameters"
_CACHE = {}
_DEPTH = [0]


# ------------------------------------------------------------------------------ switches, constant params
def enabled_for(x):
    """Whether the fast path applies to ``x`` (a float32/float64 NumPy array or a Variable holding one)."""
    arr = x.array if isinstance(x, chainer.Variable) else x
    return ENABLED and isinstance(arr, numpy.ndarray) and arr.dtype in (numpy.float32, numpy.float64)


def parameters_constant():
    """True inside :func:`constant_parameters`."""
    return bool(getattr(chainer.config, _CONFIG_KEY, False))


@contextlib.contextmanager
def constant_parameters(enabled=True):
    """Treat the parameters of this package's links as constants inside the context.

    No parameter gradient is computed (gradients reach the inputs only, e.g. the latent ``z`` of a
    projection) and derived weights are cached until the outermost context exits. Do not modify parameters
    inside the context. Works on any device (the cache only serves the CPU fast path).
    ``constant_parameters(False)`` inside such a context makes parameters variables again for a block,
    keeping the cache. Example::

        with chainer.using_config("train", False), fastconv.constant_parameters():
            for step in range(200):
                loss = objective(gen(z, y))      # z: Variable; gen's parameters get no .grad
                loss.backward()
    """
    if not enabled:
        with chainer.using_config(_CONFIG_KEY, False):
            yield
        return
    _DEPTH[0] += 1
    try:
        with chainer.using_config(_CONFIG_KEY, True):
            yield
    finally:
        _DEPTH[0] -= 1
        if _DEPTH[0] == 0:
            _CACHE.clear()


def param(p):
    """``p`` itself, or its array inside :func:`constant_parameters` (so no gradient reaches it)."""
    if p is not None and parameters_constant() and isinstance(p, chainer.Variable):
        return p.array
    return p


def _caching(owner):
    return owner is not None and parameters_constant()


def _cached(owner, kind, make):
    """``make()``, memoised on ``(owner, kind)`` inside :func:`constant_parameters` when ``owner`` is given."""
    if not _caching(owner):
        return make()
    key = (id(owner), kind)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is owner:
        return hit[1]
    value = make()
    _CACHE[key] = (weakref.ref(owner), value)
    return value


# ------------------------------------------------------------------------------------------------ threads
_POOL = {}
_LOCK = threading.Lock()
_DEPTH_BLAS = [0, None]  # nesting depth of single_threaded_blas(), and the threadpoolctl limiter it holds


def _blas_controller():
    if "controller" not in _POOL:
        try:
            import threadpoolctl
            controller = threadpoolctl.ThreadpoolController().select(user_api="blas")
            threads = max([lib["num_threads"] for lib in controller.info()], default=0)
            if threads == 0:
                controller = None
        except Exception:  # noqa: BLE001 - no control over BLAS threads: let BLAS thread itself
            controller, threads = None, 1
        _POOL["controller"], _POOL["blas_threads"] = controller, max(1, threads)
    return _POOL["controller"]


def worker_count(work=None):
    """Threads to use for ``work`` multiply-adds (all of them when ``work`` is None)."""
    if work is not None and work < PARALLEL_MIN_WORK:
        return 1
    if WORKERS is not None:
        return max(1, int(WORKERS))
    if _blas_controller() is None:
        return 1
    return min(_POOL["blas_threads"], len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


@contextlib.contextmanager
def single_threaded_blas():
    """BLAS on one thread inside the context when the kernels use several threads themselves (nestable)."""
    controller = _blas_controller()
    if controller is None or worker_count() <= 1:
        yield
        return
    with _LOCK:
        if _DEPTH_BLAS[0] == 0:
            _DEPTH_BLAS[1] = controller.limit(limits=1)
        _DEPTH_BLAS[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH_BLAS[0] -= 1
            if _DEPTH_BLAS[0] == 0:
                _DEPTH_BLAS[1].restore_original_limits()
                _DEPTH_BLAS[1] = None


def _executor(n):
    from concurrent.futures import ThreadPoolExecutor
    pool = _POOL.get("executor")
    if pool is None or _POOL["executor_size"] < n or _POOL["executor_pid"] != os.getpid():
        pool = _POOL["executor"] = ThreadPoolExecutor(n, thread_name_prefix="neuralcollage-fastconv")
        _POOL["executor_size"], _POOL["executor_pid"] = n, os.getpid()
    return pool


def parallel_for(fn, items, init=None):
    """``fn(item, state)`` for every item, on up to ``worker_count()`` threads (the calling thread is one of them)
    with single-threaded BLAS. Threads take the next item as they become free (a thread held up by other
    processes delays the end by one item at most). ``state = init()`` once per thread (None without init)."""
    workers = min(worker_count(), len(items))
    counter = itertools.count()

    def work():
        state = None if init is None else init()
        while True:
            k = next(counter)
            if k >= len(items):
                return
            fn(items[k], state)

    if workers <= 1:
        work()
        return
    with single_threaded_blas():
        futures = [_executor(workers - 1).submit(work) for _ in range(workers - 1)]
        try:
            work()
        finally:
            for f in futures:
                f.result()


#: Items per thread that a parallel pass aims at (more than one, so that threads left behind by other
#: processes are made up for by the others).
SPLIT = 4


def _splits(n, parts):
    bounds = numpy.linspace(0, n, parts + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _by_channels(fn, c, size):
    """``fn(channel_slice)`` over ``range(c)``, split over the threads when ``size`` elements are touched."""
    workers = worker_count()
    if workers <= 1 or size < PARALLEL_MIN_SIZE or c < 2:
        fn(slice(0, c))
    else:
        parallel_for(lambda cs, _: fn(cs), _splits(c, min(c, SPLIT * workers)))


# -------------------------------------------------------------------------------- element-wise layouts
def _pad_flat(x):
    """``(N, C, H, W)`` zero-padded by one pixel, rows of width ``W + 2``, flat: ``(N, C, (H+2)(W+2) + 2)``."""
    n, c, h, w = x.shape
    wp = w + 2
    buf = numpy.empty((n, c, (h + 2) * wp + 2), dtype=x.dtype)

    def fill(cs):
        grid = buf[:, cs, :(h + 2) * wp].reshape(n, -1, h + 2, wp)
        grid[:, :, 0] = 0
        grid[:, :, h + 1] = 0
        grid[:, :, 1:h + 1, 0] = 0
        grid[:, :, 1:h + 1, wp - 1] = 0
        buf[:, cs, (h + 2) * wp:] = 0
        grid[:, :, 1:h + 1, 1:w + 1] = x[:, cs]
    _by_channels(fill, c, buf.size)
    return buf


def _rows(g, width):
    """``(N, C, H, W)`` -> ``(N, C, H * width)``, rows padded with zeros to ``width`` columns."""
    n, c, h, w = g.shape
    out = numpy.empty((n, c, h, width), dtype=g.dtype)

    def fill(cs):
        out[:, cs, :, :w] = g[:, cs]
        out[:, cs, :, w:] = 0
    _by_channels(fill, c, out.size)
    return out.reshape(n, c, h * width)


def _row_sink(dst, width, bias=None):
    """A :func:`_taps_matmul` sink writing result rows of ``width`` columns, cropped to ``dst``'s last axis,
    into ``dst (N, O, H, W)`` (any strides), adding ``bias (O,)``."""
    w = dst.shape[-1]

    def sink(i, s, e, res):
        r0, r1 = s // width, e // width
        src = res.reshape(res.shape[0], r1 - r0, width)[:, :, :w]
        if bias is None:
            dst[i, :, r0:r1] = src
        else:
            numpy.add(src, bias.reshape(-1, 1, 1), out=dst[i, :, r0:r1])
    return sink


def _upsample(x):
    n, c, h, w = x.shape
    out = numpy.empty((n, c, h, 2, w, 2), dtype=x.dtype)

    def fill(cs):
        out[:, cs] = x[:, cs, :, None, :, None]
    _by_channels(fill, c, out.size)
    return out.reshape(n, c, 2 * h, 2 * w)


def _polyphase(x):
    """The four polyphase components of ``x`` padded by one pixel (H, W even), flat ``(N, C, 4 * L)``, with
    their row width ``W/2 + 1`` and plane length ``L``."""
    n, c, hh, ww = x.shape
    h, w = hh // 2, ww // 2
    wq = w + 1
    lq = (h + 1) * wq + 1
    buf = numpy.empty((n, c, 4, lq), dtype=x.dtype)

    def fill(cs):
        buf[:, cs, :, (h + 1) * wq:] = 0
        planes = buf[:, cs, :, :(h + 1) * wq].reshape(n, -1, 4, h + 1, wq)
        for p in range(2):
            for q in range(2):
                plane = planes[:, :, 2 * p + q]
                plane[:, :, h if p else 0] = 0
                plane[:, :, :, w if q else 0] = 0
                plane[:, :, 1 - p:1 - p + h, 1 - q:1 - q + w] = x[:, cs, 1 - p::2, 1 - q::2]
    _by_channels(fill, c, buf.size)
    return buf.reshape(n, c, 4 * lq), wq, lq


# ---------------------------------------------------------------------------------------- matmul kernels
# A "tap convolution" multiplies weights (O, C * T), in (c, tap) order, with T shifted windows of a flat
# per-channel buffer (N, C, L): out[n, :, q] = sum_{c, t} W[:, c, t] * buf[n, c, q + offsets[t]].

def _fill_col(store, buf, i, s, e, offsets):
    c, t = buf.shape[1], len(offsets)
    col = store[:c * t * (e - s)].reshape(c, t, e - s)
    for j, off in enumerate(offsets):
        col[:, j] = buf[i, :, s + off:e + off]
    return col.reshape(c * t, e - s)


def _plan(n, length, rows, workers, itemsize, row=1):
    """Column strips ``(i, s, e)`` of whole ``row``-column rows: strips of about ``COL_BYTES`` of im2col (4x
    larger when BLAS threads itself: fewer synchronisations), at least ``SPLIT`` per thread when there are
    enough columns, and the largest strip width."""
    strip = COL_BYTES if workers > 1 or _blas_controller() is not None else 4 * COL_BYTES
    chunk = max(256, strip // (rows * itemsize))
    units = length // row
    per = -(-length // chunk)
    if workers > 1:
        per = max(per, min(SPLIT * workers, length // 256))
    bounds = _splits(units, max(1, min(per, units)))
    return ([(i, sl.start * row, sl.stop * row) for i in range(n) for sl in bounds],
            max(sl.stop - sl.start for sl in bounds) * row)


#: Output channels up to which a tap convolution multiplies shifted windows of its input directly instead
#: of building im2col strips (the strip would cost more than the few rows multiplied with it).
SHIFT_MAX_ROWS = 8


def _taps_matmul(buf, specs, length, row=1):
    """Tap convolutions of one buffer: for each ``(offsets, wmat, sink)`` of ``specs``, the result columns
    ``[s, e)`` of sample ``i`` (``(O, e - s)``, whole rows of ``row`` columns) are passed to
    ``sink(i, s, e, result)`` as soon as they are computed, on the thread that computed them."""
    n, c, _ = buf.shape
    t = max(len(offsets) for offsets, _, _ in specs)
    o = max(wmat.shape[0] for _, wmat, _ in specs)
    workers = worker_count(n * o * c * t * length * len(specs))
    jobs, chunk = _plan(n, length, c * t, workers, buf.itemsize, row)
    jobs = [(k,) + job for k in range(len(specs)) for job in jobs]
    taps = [numpy.ascontiguousarray(wmat.reshape(wmat.shape[0], c, len(offsets)).transpose(2, 0, 1))
            if wmat.shape[0] <= SHIFT_MAX_ROWS else None for offsets, wmat, _ in specs]

    def scratch():
        return numpy.empty(c * t * chunk, dtype=buf.dtype), numpy.empty((2, o, chunk), dtype=buf.dtype)

    def compute(k, i, s, e, store, res, split):
        offsets, wmat, sink = specs[k]
        out = res[0, :wmat.shape[0], :e - s]
        if taps[k] is None:
            _matmul_rows(wmat, _fill_col(store, buf, i, s, e, offsets), out, split)
        else:
            tmp = res[1, :wmat.shape[0], :e - s]
            for j, off in enumerate(offsets):
                numpy.matmul(taps[k][j], buf[i, :, s + off:e + off], out=out if j == 0 else tmp)
                if j:
                    out += tmp
        sink(i, s, e, out)

    if workers > 1 and len(jobs) >= workers:
        parallel_for(lambda job, state: compute(*job, *state, 1), jobs, scratch)
    else:
        store, res = scratch()
        with single_threaded_blas():
            for job in jobs:
                compute(*job, store, res, workers)


def _matmul_rows(a, b, out, workers):
    """``out[...] = a @ b``, split by rows of ``a`` over the threads when ``a`` is tall enough."""
    if workers > 1 and a.shape[0] >= 32 * workers and a.shape[0] * b.shape[0] * b.shape[1] >= PARALLEL_MIN_WORK:
        rows = _splits(a.shape[0], min(SPLIT * workers, a.shape[0] // 16))
        parallel_for(lambda rs, _: numpy.matmul(a[rs], b, out=out[rs]), rows)
    else:
        numpy.matmul(a, b, out=out)


def _taps_corr(g, buf, offsets, length):
    """``sum_{n, q} g[n, :, q] * buf[n, c, q + offsets[t]]`` as ``(O, C * T)`` (a weight gradient)."""
    n, c, _ = buf.shape
    t, o = len(offsets), g.shape[1]
    workers = worker_count(n * o * c * t * length)
    jobs, chunk = _plan(n, length, c * t, workers, buf.itemsize)
    if workers > 1 and len(jobs) >= 2 * workers:
        # contiguous groups of jobs, each summed into its own accumulator and the groups added in order:
        # the result does not depend on which thread ran what (a weight gradient is repeatable bit for bit)
        groups = [jobs[part] for part in _splits(len(jobs), min(len(jobs), 2 * workers))]
        sums = [None] * len(groups)

        def init():
            return numpy.empty((o, c * t), dtype=buf.dtype), numpy.empty(c * t * chunk, dtype=buf.dtype)

        def run(k, state):
            tmp, store = state
            acc = numpy.zeros((o, c * t), dtype=buf.dtype)
            for i, s, e in groups[k]:
                numpy.matmul(g[i, :, s:e], _fill_col(store, buf, i, s, e, offsets).T, out=tmp)
                acc += tmp
            sums[k] = acc
        parallel_for(run, list(range(len(groups))), init)
        return sum(sums[1:], sums[0])
    acc = numpy.zeros((o, c * t), dtype=buf.dtype)
    tmp = numpy.empty_like(acc)
    store = numpy.empty(c * t * chunk, dtype=buf.dtype)
    with single_threaded_blas():
        for i, s, e in jobs:
            _matmul_rows(g[i, :, s:e], _fill_col(store, buf, i, s, e, offsets).T, tmp, workers)
            acc += tmp
    return acc


def _matmul_1x1(wmat, x3):
    """``wmat (O, C) @ x3 (N, C, P)`` -> ``(N, O, P)``, split over the threads."""
    n, c, p = x3.shape
    out = numpy.empty((n, wmat.shape[0], p), dtype=x3.dtype)
    workers = worker_count(n * wmat.shape[0] * c * p)
    jobs, _ = _plan(n, p, c, workers, x3.itemsize)
    if workers > 1 and len(jobs) >= workers:
        def run(job, _):
            i, s, e = job
            numpy.matmul(wmat, x3[i, :, s:e], out=out[i, :, s:e])
        parallel_for(run, jobs)
    else:
        with single_threaded_blas():
            for i in range(n):
                _matmul_rows(wmat, x3[i], out[i], workers)
    return out


# ------------------------------------------------------------------------------- convolution algorithms
def _offsets3(wp):
    return [ky * wp + kx for ky in range(3) for kx in range(3)]


def _conv3x3(x, w, bias=None):
    """``F.convolution_2d(x, w, bias, pad=1)``: ``(N, C, H, W)``, ``(O, C, 3, 3)`` -> ``(N, O, H, W)``."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    wp = wd + 2
    y = numpy.empty((n, o, h, wd), dtype=x.dtype)
    _taps_matmul(_pad_flat(x), [(_offsets3(wp), w.reshape(o, c * 9), _row_sink(y, wp, bias))], h * wp, wp)
    return y


def _conv3x3_grad_w(x, gy):
    n, c, h, wd = x.shape
    o = gy.shape[1]
    wp = wd + 2
    return _taps_corr(_rows(gy, wp), _pad_flat(x), _offsets3(wp), h * wp).reshape(o, c, 3, 3)


def _flip_t(w):
    """Weights of the transposed 3x3 convolution: ``(O, C, 3, 3)`` -> ``(C, O, 3, 3)`` flipped."""
    return numpy.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def _up_map():
    """``(9, 16)`` 0/1: kernel tap ``(ky, kx)`` -> (phase ``(a, b)``, 2x2 tap ``(ty, tx)``) of the upsampled conv.

    Output row ``2y + a`` with kernel row ``ky`` reads low-resolution row ``y + (a + ky - 1) // 2``, i.e. row
    ``ty = 1 + (a + ky - 1) // 2 - a`` of the phase's 2x2 window (which starts at padded row ``y + a``).
    """
    m = numpy.zeros((9, 16), numpy.float32)
    for ky in range(3):
        for kx in range(3):
            for a in range(2):
                for b in range(2):
                    ty, tx = 1 + (a + ky - 1) // 2 - a, 1 + (b + kx - 1) // 2 - b
                    m[ky * 3 + kx, (a * 2 + b) * 4 + ty * 2 + tx] = 1
    return m


def _down_map():
    """``(9, 16)`` 0/1: kernel tap ``(ky, kx)`` -> (polyphase ``(p, q)``, 2x2 tap ``(u, v)``) of the 2x2
    sum-pooled conv: pooled output ``(Y, X)`` reads padded input ``(2Y + a + ky, 2X + b + kx)`` for ``a, b`` in
    ``{0, 1}``, which is component ``((a + ky) % 2, (b + kx) % 2)`` at ``(Y + (a + ky) // 2, X + ...)``."""
    m = numpy.zeros((9, 16), numpy.float32)
    for ky in range(3):
        for kx in range(3):
            for a in range(2):
                for b in range(2):
                    uy, ux = a + ky, b + kx
                    m[ky * 3 + kx, ((uy % 2) * 2 + ux % 2) * 4 + (uy // 2) * 2 + ux // 2] = 1
    return m


UP_MAP = _up_map()
DOWN_MAP = _down_map()


def _summed(w, mapping, groups=1):
    """``(O, C, 3, 3)`` -> ``groups`` arrays ``(O, C * 16 / groups)``: the kernel taps summed (``w @ mapping``)
    into the 16 taps of ``mapping``, one contiguous array per group of its columns."""
    o, c = w.shape[:2]
    w9 = w.reshape(o, c, 9)
    mapping = mapping.astype(w.dtype, copy=False)
    per = 16 // groups
    outs = [numpy.empty((o, c, per), dtype=w.dtype) for _ in range(groups)]

    def run(rs):
        rows = w9[rs].reshape(-1, 9)
        for k, out in enumerate(outs):
            numpy.matmul(rows, mapping[:, k * per:(k + 1) * per], out=out[rs].reshape(-1, per))
    _by_channels(run, o, o * c * 16)
    return [out.reshape(o, c * per) for out in outs]


def _unsummed(g16, mapping):
    """Adjoint of :func:`_summed`: ``(O, C, 16)`` -> ``(O, C, 3, 3)``."""
    o, c = g16.shape[:2]
    return numpy.matmul(g16.reshape(o * c, 16), mapping.T.astype(g16.dtype, copy=False)).reshape(o, c, 3, 3)


def _phase_offsets(wp):
    return [[(a + ty) * wp + b + tx for ty in range(2) for tx in range(2)] for a in range(2) for b in range(2)]


def _up_conv3x3(x, w=None, phases=None, bias=None):
    """``F.convolution_2d(upsample_nearest(x), w, bias, pad=1)``; by phases when ``phases`` (the four summed
    weights ``(O, 4C)``) are given, else directly."""
    if phases is None:
        return _conv3x3(_upsample(x), w, bias)
    n, c, h, wd = x.shape
    o = phases[0].shape[0]
    wp = wd + 2
    y = numpy.empty((n, o, h, 2, wd, 2), dtype=x.dtype)
    specs = [(offsets, wph, _row_sink(y[:, :, :, p // 2, :, p % 2], wp, bias))
             for p, (offsets, wph) in enumerate(zip(_phase_offsets(wp), phases))]
    _taps_matmul(_pad_flat(x), specs, h * wp, wp)
    return y.reshape(n, o, 2 * h, 2 * wd)


def _up_conv3x3_grad_w(x, gy, direct):
    if direct:
        return _conv3x3_grad_w(_upsample(x), gy)
    n, c, h, wd = x.shape
    o = gy.shape[1]
    wp = wd + 2
    buf = _pad_flat(x)
    g16 = numpy.empty((o, c, 16), dtype=x.dtype)
    for p, offsets in enumerate(_phase_offsets(wp)):
        g = _rows(gy[:, :, p // 2::2, p % 2::2], wp)
        g16[:, :, 4 * p:4 * p + 4] = _taps_corr(g, buf, offsets, h * wp).reshape(o, c, 4)
    return _unsummed(g16, UP_MAP)


def _down_offsets(wq, lq):
    return [(p * 2 + q) * lq + u * wq + v for p in range(2) for q in range(2) for u in range(2) for v in range(2)]


def _conv3x3_sumpool(x, wsum, bias=None):
    """``sum_pool_2x2(conv3x3(x, w))`` (+ bias) from ``wsum = _summed(w, DOWN_MAP)[0]`` ``(O, 16C)``."""
    n, c, hh, ww = x.shape
    buf, wq, lq = _polyphase(x)
    y = numpy.empty((n, wsum.shape[0], hh // 2, ww // 2), dtype=x.dtype)
    _taps_matmul(buf, [(_down_offsets(wq, lq), wsum, _row_sink(y, wq, bias))], (hh // 2) * wq, wq)
    return y


def _conv3x3_sumpool_grad_w(x, gy):
    n, c, hh, ww = x.shape
    o = gy.shape[1]
    buf, wq, lq = _polyphase(x)
    g16 = _taps_corr(_rows(gy, wq), buf, _down_offsets(wq, lq), (hh // 2) * wq).reshape(o, c, 16)
    return _unsummed(g16, DOWN_MAP)


def _sum_to(a, shape):
    shape = tuple(shape)
    if a.shape == shape:
        return a
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and a.shape[i + lead] != 1)
    return a.sum(axis=axes, keepdims=True).reshape(shape)


def _var(a):
    return None if a is None else chainer.Variable(a)


def _conv_grads(node, indexes, gy, gx, gw):
    """A convolution node's gradient tuple: ``gx``, ``gw`` and, when asked for, the bias gradient from
    ``gy``, cut to the node's inputs."""
    gb = gy.sum(axis=(0, 2, 3)) if 2 in indexes else None
    return tuple(_var(g) for g in (gx, gw, gb)[:len(node.inputs)])


def _quarter(w):
    return w * w.dtype.type(0.25)


# ---------------------------------------------------------------------------------------- function nodes
class Convolution2DFunction(function_node.FunctionNode):
    """``F.convolution_2d(x, W, b, stride=1, pad=pad)`` on the CPU (fast for 3x3/pad 1 and 1x1/pad 0)."""

    def __init__(self, pad, owner=None):
        self.pad = pad
        self.owner = owner

    def _kind(self, w):
        kh, kw = w.shape[2:]
        if kh == kw == 1 and self.pad == 0:
            return "1x1"
        if kh == kw == 3 and self.pad == 1:
            return "3x3"
        return "generic"

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, w = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        n, c, h, wd = x.shape
        o = w.shape[0]
        kind = self._kind(w)
        with single_threaded_blas():
            if kind == "3x3":
                return _conv3x3(x, w, b),
            if kind == "1x1":
                y = _matmul_1x1(w.reshape(o, c), x.reshape(n, c, h * wd))
            else:
                kh, kw = w.shape[2:]
                col = conv_utils.im2col_cpu(x, kh, kw, 1, 1, self.pad, self.pad)
                h, wd = col.shape[4:]
                y = numpy.matmul(w.reshape(o, -1), col.reshape(n, c * kh * kw, h * wd))
        if b is not None:
            y += b.reshape(1, o, 1)
        return y.reshape(n, o, h, wd),

    def backward(self, indexes, grad_outputs):
        x, w = (v.array for v in self.get_retained_inputs())
        gy = grad_outputs[0].array
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        kind = self._kind(w)
        gx = gw = None
        with single_threaded_blas():
            if 0 in indexes:
                if kind == "3x3":
                    gx = _conv3x3(gy, _cached(self.owner, "flip_t", lambda: _flip_t(w)))
                elif kind == "1x1":
                    gx = _matmul_1x1(w.reshape(o, c).T, gy.reshape(n, o, h * wd)).reshape(x.shape)
                else:
                    oh, ow = gy.shape[2:]
                    gcol = numpy.matmul(w.reshape(o, -1).T, gy.reshape(n, o, oh * ow))
                    gx = conv_utils.col2im_cpu(gcol.reshape(n, c, kh, kw, oh, ow), 1, 1, self.pad, self.pad,
                                               h, wd)
            if 1 in indexes:
                if kind == "3x3":
                    gw = _conv3x3_grad_w(x, gy)
                elif kind == "1x1":
                    gw = _taps_corr(gy.reshape(n, o, -1), x.reshape(n, c, -1), [0], h * wd).reshape(w.shape)
                else:
                    col = conv_utils.im2col_cpu(x, kh, kw, 1, 1, self.pad, self.pad)
                    gw = numpy.tensordot(gy, col, ((0, 2, 3), (0, 4, 5))).reshape(w.shape)
        return _conv_grads(self, indexes, gy, gx, gw)


class UpsampleConvolution2DFunction(function_node.FunctionNode):
    """``F.convolution_2d(upsample_nearest(x), W, b, pad=1)`` for 3x3 ``W`` on the CPU, by output phases."""

    def __init__(self, owner=None):
        self.owner = owner

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, w = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        self.direct = x.shape[2] * x.shape[3] < PHASE_MIN_PIXELS and not _caching(self.owner)
        with single_threaded_blas():
            if self.direct:
                return _up_conv3x3(x, w, bias=b),
            phases = _cached(self.owner, "phases", lambda: _summed(w, UP_MAP, groups=4))
            return _up_conv3x3(x, phases=phases, bias=b),

    def backward(self, indexes, grad_outputs):
        x, w = (v.array for v in self.get_retained_inputs())
        gy = grad_outputs[0].array
        gx = gw = None
        with single_threaded_blas():
            if 0 in indexes:
                wsum = _cached(self.owner, "flip_t_down", lambda: _summed(_flip_t(w), DOWN_MAP)[0])
                gx = _conv3x3_sumpool(gy, wsum)
            if 1 in indexes:
                gw = _up_conv3x3_grad_w(x, gy, self.direct)
        return _conv_grads(self, indexes, gy, gx, gw)


class Convolution2DAvgPoolFunction(function_node.FunctionNode):
    """``F.average_pooling_2d(F.convolution_2d(x, W, b, pad=1), 2)`` for 3x3 ``W``, even H and W, on the CPU."""

    def __init__(self, owner=None):
        self.owner = owner

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, w = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        with single_threaded_blas():
            wsum = _cached(self.owner, "down", lambda: _summed(_quarter(w), DOWN_MAP)[0])
            return _conv3x3_sumpool(x, wsum, b),

    def backward(self, indexes, grad_outputs):
        x, w = (v.array for v in self.get_retained_inputs())
        gy = grad_outputs[0].array
        gx = gw = None
        with single_threaded_blas():
            if 0 in indexes:
                if gy.shape[2] * gy.shape[3] < PHASE_MIN_PIXELS and not _caching(self.owner):
                    gx = _up_conv3x3(gy, _quarter(_flip_t(w)))
                else:
                    phases = _cached(self.owner, "flip_t_phases",
                                     lambda: _summed(_quarter(_flip_t(w)), UP_MAP, groups=4))
                    gx = _up_conv3x3(gy, phases=phases)
            if 1 in indexes:
                gw = _quarter(_conv3x3_sumpool_grad_w(x, gy))
        return _conv_grads(self, indexes, gy, gx, gw)


class UpsampleAdd(function_node.FunctionNode):
    """``h + upsample_nearest(s)`` for ``h (N, C, 2H, 2W)``, ``s (N, C, H, W)``."""

    def forward(self, inputs):
        h, s = inputs
        n, c, hh, ww = h.shape
        y = numpy.empty_like(h)
        h6 = h.reshape(n, c, hh // 2, 2, ww // 2, 2)
        y6 = y.reshape(h6.shape)

        def fill(cs):
            numpy.add(h6[:, cs], s[:, cs, :, None, :, None], out=y6[:, cs])
        _by_channels(fill, c, y.size)
        return y,

    def backward(self, indexes, grad_outputs):
        gh = grad_outputs[0] if 0 in indexes else None
        gs = None
        if 1 in indexes:
            gy = grad_outputs[0].array
            n, c, hh, ww = gy.shape
            gs = gy.reshape(n, c, hh // 2, 2, ww // 2, 2).sum(axis=(3, 5))
        return gh, _var(gs)


class AveragePooling2x2(function_node.FunctionNode):
    """``F.average_pooling_2d(x, 2)`` for even H and W."""

    def forward(self, inputs):
        x, = inputs
        n, c, hh, ww = x.shape
        y = x.reshape(n, c, hh // 2, 2, ww // 2, 2).sum(axis=(3, 5))
        y *= x.dtype.type(0.25)
        return y,

    def backward(self, indexes, grad_outputs):
        return chainer.Variable(_upsample(_quarter(grad_outputs[0].array))),


class BatchNormReLU(function_node.FunctionNode):
    """``relu(gamma * ((x - mean) * inv_std) + beta)``, ``inv_std = sqrt(1 / (var + eps))``: test-mode (s)CBN
    then ReLU, with Chainer's operations in Chainer's order (bit-identical to ``F.fixed_batch_normalization``
    with unit scale, the affine transform and ``F.relu``).

    ``x (N, C, H, W)``; ``gamma``, ``beta`` ``(1 or N, C, 1, 1)`` or ``(N, C, H, W)``; ``mean``, ``var``
    ``(C,)`` constants.
    """

    def __init__(self, mean, var, eps):
        self.mean = mean
        inv_var = numpy.reciprocal(var + eps)
        self.inv_std = numpy.sqrt(inv_var, dtype=inv_var.dtype)

    def _xhat(self, x, cs, out=None):
        out = numpy.subtract(x[:, cs], self.mean[cs].reshape(1, -1, 1, 1), out=out)
        out *= self.inv_std[cs].reshape(1, -1, 1, 1)
        return out

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, gamma, beta = inputs
        y = numpy.empty_like(x)

        def fill(cs):
            out = self._xhat(x, cs, y[:, cs])
            out *= gamma[:, cs]
            out += beta[:, cs]
            numpy.maximum(out, 0, out=out, dtype=out.dtype)
        _by_channels(fill, x.shape[1], x.size)
        self.retain_outputs((0,))
        return y,

    def backward(self, indexes, grad_outputs):
        x, gamma = (v.array for v in self.get_retained_inputs())
        y = self.get_retained_outputs()[0].array
        gy = grad_outputs[0].array
        c = x.shape[1]
        g = numpy.empty_like(gy)
        gx = numpy.empty_like(x) if 0 in indexes else None

        def fill(cs):
            numpy.multiply(gy[:, cs], y[:, cs] > 0, out=g[:, cs])
            if gx is not None:
                numpy.multiply(g[:, cs], gamma[:, cs], out=gx[:, cs])
                gx[:, cs] *= self.inv_std[cs].reshape(1, -1, 1, 1)
        _by_channels(fill, c, x.size)
        ggamma = _sum_to(g * self._xhat(x, slice(None)), gamma.shape) if 1 in indexes else None
        gbeta = _sum_to(g, self.inputs[2].shape) if 2 in indexes else None
        return _var(gx), _var(ggamma), _var(gbeta)


# ------------------------------------------------------------------------------------- public functions
def _inputs(x, w, b):
    return (x, w) if b is None else (x, w, b)


def convolution_2d(x, W, b=None, *, pad=0, owner=None):
    """``F.convolution_2d(x, W, b, stride=1, pad=pad)``; the fast path on NumPy arrays.

    ``owner``: an object whose identity stands for ``W``'s values (the link's parameter array), allowing
    derived weights to be cached inside :func:`constant_parameters`.
    """
    if not enabled_for(x):
        return F.convolution_2d(x, W, b, stride=1, pad=pad)
    return Convolution2DFunction(pad, owner).apply(_inputs(x, W, b))[0]


def upsample_nearest(x):
    """Nearest-neighbour 2x upsampling ``(N, C, H, W)`` -> ``(N, C, 2H, 2W)`` (standard Chainer functions)."""
    n, c, h, w = x.shape
    x = F.reshape(x, (n, c, h, 1, w, 1))
    x = F.broadcast_to(x, (n, c, h, 2, w, 2))
    return F.reshape(x, (n, c, 2 * h, 2 * w))


def upsample_convolution_2d(x, W, b=None, *, owner=None):
    """``F.convolution_2d(upsample_nearest(x), W, b, pad=1)`` for 3x3 ``W``; by phases on NumPy arrays."""
    if not enabled_for(x) or W.shape[2:] != (3, 3):
        return F.convolution_2d(upsample_nearest(x), W, b, stride=1, pad=1)
    return UpsampleConvolution2DFunction(owner).apply(_inputs(x, W, b))[0]


def convolution_2d_avgpool(x, W, b=None, *, owner=None):
    """``F.average_pooling_2d(F.convolution_2d(x, W, b, pad=1), 2)`` for 3x3 ``W``; by polyphase components
    on NumPy arrays of even height and width."""
    if not enabled_for(x) or W.shape[2:] != (3, 3) or x.shape[2] % 2 or x.shape[3] % 2:
        return F.average_pooling_2d(F.convolution_2d(x, W, b, stride=1, pad=1), 2)
    return Convolution2DAvgPoolFunction(owner).apply(_inputs(x, W, b))[0]


def average_pooling_2x2(x):
    """``F.average_pooling_2d(x, 2)``; a reshape-mean on NumPy arrays of even height and width."""
    if not enabled_for(x) or x.shape[2] % 2 or x.shape[3] % 2:
        return F.average_pooling_2d(x, 2)
    return AveragePooling2x2().apply((x,))[0]


def upsample_add(h, s):
    """``h + upsample_nearest(s)`` with ``h (N, C, 2H, 2W)`` and ``s (N, C, H, W)``."""
    if not enabled_for(h):
        return h + upsample_nearest(s)
    return UpsampleAdd().apply((h, s))[0]


def batch_norm_relu(x, gamma, beta, mean, var, *, eps):
    """``F.relu(gamma * F.fixed_batch_normalization(x, 1, 0, mean, var, eps) + beta)`` (test-mode sCBN).

    ``x (N, C, H, W)``; ``gamma``, ``beta``: ``(C,)``, ``(N, C)`` or ``(N, C, H, W)`` Variables or arrays;
    ``mean``, ``var``: ``(C,)`` arrays (constants). One fused function on NumPy arrays, bit-identical to the
    standard composition.
    """
    n, c = x.shape[:2]
    if gamma.ndim < 4:
        shape = (1, c, 1, 1) if gamma.ndim == 1 else (n, c, 1, 1)
        gamma, beta = F.reshape(gamma, shape), F.reshape(beta, shape)
    if not enabled_for(x):
        xp = chainer.backend.get_array_module(x)
        ones, zeros = xp.ones(c, dtype=x.dtype), xp.zeros(c, dtype=x.dtype)
        xhat = F.fixed_batch_normalization(x, ones, zeros, mean, var, eps=eps)
        return F.relu(F.broadcast_to(gamma, x.shape) * xhat + F.broadcast_to(beta, x.shape))
    return BatchNormReLU(mean, var, eps).apply((x, gamma, beta))[0]


class Convolution2D(L.Convolution2D):
    """``L.Convolution2D`` (stride 1; same parameters and snapshot keys) running the fast functions.

    ``link(x)`` is the convolution, ``link(x, upsample=True)`` the convolution of the 2x nearest-upsampled
    input (:func:`upsample_convolution_2d`), ``link(x, pool=True)`` the 2x2 average-pooled convolution
    (:func:`convolution_2d_avgpool`). Link hooks (spectral norm) run as usual, except inside
    :func:`constant_parameters` in test mode, where a spectral-norm hook's normalised weight is computed once
    (with the stored ``u``, which test mode never updates) and reused.
    """

    def __init__(self, in_channels, out_channels, ksize, *, pad=0, initialW=None, nobias=False):
        super().__init__(in_channels, out_channels, ksize, stride=1, pad=pad, nobias=nobias, initialW=initialW)

    def __call__(self, x, **kwargs):
        hook = self._frozen_spectral_norm(x)
        if hook is None:
            return super().__call__(x, **kwargs)
        w = _cached(self.W.array, "spectral_norm", lambda: hook.normalize_weight(self).array)
        return self._forward(x, w, **kwargs)

    def _frozen_spectral_norm(self, x):
        """This link's spectral-norm hook when it is its only hook and its result may be cached, else None."""
        if not parameters_constant() or chainer.config.train or chainer._get_link_hooks():
            return None
        hooks = self.local_link_hooks
        hook = hooks.get("SpectralNormalization") if len(hooks) == 1 else None
        if hook is None or not getattr(hook, "_initialized", False) or not enabled_for(x):
            return None
        return hook

    def forward(self, x, *, upsample=False, pool=False):
        return self._forward(x, self.W, upsample=upsample, pool=pool)

    def _forward(self, x, W, *, upsample=False, pool=False):
        if isinstance(W, chainer.Parameter):
            owner = W.array
        else:
            owner = W if isinstance(W, numpy.ndarray) else None
        W, b = param(W), param(self.b)
        if upsample:
            return upsample_convolution_2d(x, W, b, owner=owner)
        if pool:
            return convolution_2d_avgpool(x, W, b, owner=owner)
        return convolution_2d(x, W, b, pad=self.pad[0], owner=owner)
