"""CPU fast path for the convolutions, resampling and test-mode batch norms of generators and discriminators.

Every function here computes exactly the same maths as the Chainer composition it replaces (up to float32
rounding) and is used automatically on NumPy arrays only; CuPy arrays always take the standard Chainer
functions (cuDNN). ``ENABLED = False`` switches the fast path off everywhere (for benchmarks and tests).

What is faster and why:

* 3x3 convolutions (stride 1, pad 1) run on a zero-padded copy of the input whose rows keep two extra
  columns, so every kernel tap is a plain offset into it: the im2col matrix is built in strips of a few MB
  (kept in cache) by contiguous copies, in the weights' own (C, ky, kx) order, and multiplied without any
  transposed copy. 1x1 convolutions are one matrix product with no copy at all.
* :func:`upsample_convolution_2d` is ``conv3x3(upsample_nearest(x))`` computed on the low-resolution input:
  each of the four output phases is a 2x2 convolution with summed weights (2.25x fewer FLOPs).
* :func:`convolution_2d_avgpool` is ``average_pooling_2d(conv3x3(x), 2)`` computed as four 2x2 convolutions
  of the input's polyphase components with summed weights (2.25x fewer FLOPs); it is the adjoint of the
  above, and each one's input gradient is computed by the other.
* :func:`upsample_add` (``h + upsample_nearest(s)``) lets the 1x1 shortcut of a generator block run before
  upsampling (4x fewer FLOPs); :func:`average_pooling_2x2` is a reshape-mean.
* :func:`batch_norm_relu` is test-mode (s)CBN followed by ReLU in one function, bit-identical to
  ``F.relu(gamma * F.fixed_batch_normalization(x, 1, 0, mean, var) + beta)``.

All of them have backward passes with respect to every input (input, weights, bias, gamma, beta), computed
with the same fast kernels (first order only: no double backprop).

Inside ``with constant_parameters():`` the links of this package pass their parameters as constants, so no
parameter gradient is computed (projection only needs the gradient with respect to z), and the derived
weights (summed phase weights, flipped transposed weights, spectrally normalised weights) are computed once
and reused until the context exits. Parameters must not be modified inside the context.
"""
from neuralcollage import _compat  # noqa: F401

import contextlib
import weakref

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import function_node
from chainer.utils import conv as conv_utils

ENABLED = True

#: Bytes of the im2col strip built per matrix product (a strip that stays in cache is faster than one
#: big buffer that does not).
COL_BYTES = 4 << 20

#: Input pixels (h * w) below which :func:`upsample_convolution_2d` upsamples and convolves directly: at
#: tiny resolutions the summed phase weights cost more than the FLOPs they save (unless cached).
PHASE_MIN_PIXELS = 64

#: Worker threads of the fast kernels (each runs single-threaded BLAS on its share of a convolution, so
#: there is one synchronisation per convolution instead of one per matrix product). None: as many as
#: BLAS threads (needs ``threadpoolctl``; without it BLAS threads itself and the kernels run serially).
WORKERS = None

_CONFIG_KEY = "neuralcollage_constant_parameters"
_CACHE = {}
_DEPTH = [0]


_POOL = {}


def _blas_controller():
    if "controller" not in _POOL:
        try:
            import threadpoolctl
            controller = threadpoolctl.ThreadpoolController().select(user_api="blas")
            threads = max([lib["num_threads"] for lib in controller.info()], default=1)
        except Exception:  # noqa: BLE001 - any failure means: let BLAS thread itself
            controller, threads = None, 1
        _POOL["controller"], _POOL["blas_threads"] = controller, threads
    return _POOL["controller"]


def _workers():
    if WORKERS is not None:
        return max(1, int(WORKERS))
    if _blas_controller() is None:
        return 1
    return _POOL["blas_threads"]


def _parallel(fn, args):
    """``[fn(a) for a in args]`` on worker threads with single-threaded BLAS (results discarded)."""
    from concurrent.futures import ThreadPoolExecutor
    pool = _POOL.get("executor")
    if pool is None or _POOL.get("executor_size", 0) < len(args) - 1:
        pool = _POOL["executor"] = ThreadPoolExecutor(max(1, len(args) - 1), thread_name_prefix="fastconv")
        _POOL["executor_size"] = len(args) - 1
    controller = _blas_controller()
    limit = controller.limit(limits=1) if controller is not None else contextlib.nullcontext()
    with limit:
        futures = [pool.submit(fn, a) for a in args[1:]]
        fn(args[0])
        for f in futures:
            f.result()


def enabled_for(x):
    """Whether the fast path applies to ``x`` (a NumPy array or a Variable holding one)."""
    arr = x.array if isinstance(x, chainer.Variable) else x
    return ENABLED and isinstance(arr, numpy.ndarray) and arr.dtype.kind == "f"


def parameters_constant():
    """True inside :func:`constant_parameters`."""
    return bool(getattr(chainer.config, _CONFIG_KEY, False))


@contextlib.contextmanager
def constant_parameters():
    """Treat every parameter of this package's links as a constant inside the context.

    No parameter gradient is computed (gradients reach inputs only, e.g. the latent ``z`` of a projection),
    and derived weights are computed once and cached until the outermost context exits. Do not modify
    parameters inside the context. Works on any device (the cache only serves the CPU fast path).
    """
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


def _cached(owner, kind, make):
    """``make()``, memoised on ``(owner, kind)`` while parameters are constant and ``owner`` is given."""
    if owner is None or not parameters_constant():
        return make()
    key = (id(owner), kind)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is owner:
        return hit[1]
    value = make()
    _CACHE[key] = (weakref.ref(owner), value)
    return value


def _caching(owner):
    return owner is not None and parameters_constant()


def _array(v):
    return v.array if isinstance(v, chainer.Variable) else v


# ---------------------------------------------------------------------------------------------- kernels
# A "tap convolution" multiplies weights (O, C * T), in (c, tap) order, with T shifted windows of a flat
# per-channel buffer (N, C, L): out[n, :, q] = sum_{c, t} W[:, c, t] * buf[n, c, q + offsets[t]].


def _chunks(n, length, c, t, itemsize):
    chunk = min(length, max(512, COL_BYTES // (c * t * itemsize)))
    return chunk, [(i, s, min(length, s + chunk)) for i in range(n) for s in range(0, length, chunk)]


def _fill_col(store, buf, i, s, e, offsets):
    c = buf.shape[1]
    t = len(offsets)
    col = store[:c * t * (e - s)].reshape(c, t, e - s)
    for j, off in enumerate(offsets):
        col[:, j] = buf[i, :, s + off:e + off]
    return col.reshape(c * t, e - s)


def _taps_matmul(buf, offsets, wmat, length):
    n, c, _ = buf.shape
    t = len(offsets)
    o = wmat.shape[0]
    out = numpy.empty((n, o, length), dtype=buf.dtype)
    chunk, jobs = _chunks(n, length, c, t, buf.itemsize)
    workers = _workers()
    if workers > 1 and len(jobs) >= 2 * workers:
        def run(part):
            store = numpy.empty(c * t * chunk, dtype=buf.dtype)
            for i, s, e in part:
                numpy.matmul(wmat, _fill_col(store, buf, i, s, e, offsets), out=out[i, :, s:e])
        _parallel(run, [jobs[k::workers] for k in range(workers)])
        return out
    store = numpy.empty(c * t * chunk, dtype=buf.dtype)
    for i, s, e in jobs:
        col = _fill_col(store, buf, i, s, e, offsets)
        if workers > 1 and o >= 64 * workers:
            rows = numpy.linspace(0, o, workers + 1).astype(int)

            def run(k, col=col, i=i, s=s, e=e):
                numpy.matmul(wmat[rows[k]:rows[k + 1]], col, out=out[i, rows[k]:rows[k + 1], s:e])
            _parallel(run, list(range(workers)))
        else:
            numpy.matmul(wmat, col, out=out[i, :, s:e])
    return out


def _taps_corr(g, buf, offsets, length):
    """``sum_{n, q} g[n, :, q] * buf[n, c, q + offsets[t]]`` as ``(O, C * T)``: the weight gradient."""
    n, c, _ = buf.shape
    t = len(offsets)
    o = g.shape[1]
    chunk, jobs = _chunks(n, length, c, t, buf.itemsize)
    workers = min(_workers(), len(jobs))
    accs = [numpy.zeros((o, c * t), dtype=buf.dtype) for _ in range(workers)]

    def run(k):
        store = numpy.empty(c * t * chunk, dtype=buf.dtype)
        tmp = numpy.empty((o, c * t), dtype=buf.dtype)
        for i, s, e in jobs[k::workers]:
            numpy.matmul(g[i, :, s:e], _fill_col(store, buf, i, s, e, offsets).T, out=tmp)
            accs[k] += tmp
    if workers > 1:
        _parallel(run, list(range(workers)))
    else:
        run(0)
    return sum(accs[1:], accs[0])


def _pad_flat(x):
    """``(N, C, H, W)`` zero-padded by one pixel, rows of width ``W + 2``, flat: ``(N, C, (H+2)(W+2) + 2)``."""
    n, c, h, w = x.shape
    wp = w + 2
    buf = numpy.empty((n, c, (h + 2) * wp + 2), dtype=x.dtype)
    grid = buf[:, :, :(h + 2) * wp].reshape(n, c, h + 2, wp)
    grid[:, :, 0] = 0
    grid[:, :, h + 1] = 0
    grid[:, :, 1:h + 1, 0] = 0
    grid[:, :, 1:h + 1, wp - 1] = 0
    buf[:, :, (h + 2) * wp:] = 0
    grid[:, :, 1:h + 1, 1:w + 1] = x
    return buf


def _rows(g, width):
    """``(N, C, H, W)`` -> ``(N, C, H * width)``, rows padded with zeros to ``width`` columns."""
    n, c, h, w = g.shape
    out = numpy.empty((n, c, h, width), dtype=g.dtype)
    out[..., :w] = g
    out[..., w:] = 0
    return out.reshape(n, c, h * width)


def _crop(out, h, w, width, bias=None, dst=None):
    """``(N, O, h * width)`` -> its first ``w`` columns ``(N, O, h, w)`` (+ bias), contiguous or into ``dst``."""
    n, o = out.shape[:2]
    src = out.reshape(n, o, h, width)[..., :w]
    if dst is None:
        dst = numpy.empty((n, o, h, w), dtype=out.dtype)
    if bias is None:
        numpy.copyto(dst, src)
    else:
        numpy.add(src, bias.reshape(1, o, 1, 1), out=dst)
    return dst


def _offsets3(wp):
    return [ky * wp + kx for ky in range(3) for kx in range(3)]


def _conv3x3(x, w):
    """``F.convolution_2d(x, w, pad=1)`` without bias: ``(N, C, H, W)``, ``(O, C, 3, 3)`` -> ``(N, O, H, W)``."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    wp = wd + 2
    out = _taps_matmul(_pad_flat(x), _offsets3(wp), w.reshape(o, c * 9), h * wp)
    return out, h, wd, wp


def _conv3x3_grad_w(x, gy):
    n, c, h, wd = x.shape
    o = gy.shape[1]
    wp = wd + 2
    return _taps_corr(_rows(gy, wp), _pad_flat(x), _offsets3(wp), h * wp).reshape(o, c, 3, 3)


def _flip_t(w):
    """Weights of the transposed 3x3 convolution: ``(O, C, 3, 3)`` -> ``(C, O, 3, 3)`` flipped."""
    return numpy.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def _up_map():
    """``(9, 16)`` 0/1 matrix: kernel tap (ky, kx) -> (phase a, b, tap ty, tx) of the upsampled conv."""
    m = numpy.zeros((9, 16), numpy.float32)
    for ky in range(3):
        for kx in range(3):
            for a in range(2):
                for b in range(2):
                    ty = 1 + (a + ky - 1) // 2 - a
                    tx = 1 + (b + kx - 1) // 2 - b
                    m[ky * 3 + kx, (a * 2 + b) * 4 + ty * 2 + tx] = 1
    return m


def _down_map():
    """``(9, 16)`` 0/1 matrix: kernel tap (ky, kx) -> (polyphase p, q, tap u, v) of the 2x2 sum-pooled conv."""
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


def _summed(w, mapping):
    """``(O, C, 3, 3)`` -> ``(O, C, 16)``: kernel taps summed into the 16 taps of ``mapping``."""
    o, c = w.shape[:2]
    return numpy.matmul(w.reshape(o * c, 9), mapping.astype(w.dtype, copy=False)).reshape(o, c, 16)


def _unsummed(g16, mapping):
    """Adjoint of :func:`_summed`: ``(O, C, 16)`` -> ``(O, C, 3, 3)``."""
    o, c = g16.shape[:2]
    return numpy.matmul(g16.reshape(o * c, 16), mapping.T.astype(g16.dtype, copy=False)).reshape(o, c, 3, 3)


def _phase_weights(w):
    s = _summed(w, UP_MAP)
    o, c = w.shape[:2]
    return [numpy.ascontiguousarray(s[:, :, 4 * p:4 * p + 4]).reshape(o, c * 4) for p in range(4)]


def _phase_offsets(wp):
    return [[(a + ty) * wp + b + tx for ty in range(2) for tx in range(2)] for a in range(2) for b in range(2)]


def _upsample(x):
    n, c, h, w = x.shape
    out = numpy.empty((n, c, h, 2, w, 2), dtype=x.dtype)
    out[...] = x[:, :, :, None, :, None]
    return out.reshape(n, c, 2 * h, 2 * w)


def _up_conv3x3(x, w, phases=None):
    """``conv3x3(upsample_nearest(x), w)`` without bias; ``phases``: summed weights or None (direct)."""
    n, c, h, wd = x.shape
    if phases is None:
        out, hh, ww, wp = _conv3x3(_upsample(x), w)
        return _crop(out, hh, ww, wp)
    o = phases[0].shape[0]
    wp = wd + 2
    buf = _pad_flat(x)
    y = numpy.empty((n, o, h, 2, wd, 2), dtype=x.dtype)
    for p, offsets in enumerate(_phase_offsets(wp)):
        out = _taps_matmul(buf, offsets, phases[p], h * wp)
        numpy.copyto(y[:, :, :, p // 2, :, p % 2], out.reshape(n, o, h, wp)[..., :wd])
    return y.reshape(n, o, 2 * h, 2 * wd)


def _up_conv3x3_grad_w(x, gy, direct):
    n, c, h, wd = x.shape
    o = gy.shape[1]
    if direct:
        return _conv3x3_grad_w(_upsample(x), gy)
    wp = wd + 2
    buf = _pad_flat(x)
    g16 = numpy.empty((o, c, 16), dtype=x.dtype)
    for p, offsets in enumerate(_phase_offsets(wp)):
        g = _rows(gy[:, :, p // 2::2, p % 2::2], wp)
        g16[:, :, 4 * p:4 * p + 4] = _taps_corr(g, buf, offsets, h * wp).reshape(o, c, 4)
    return _unsummed(g16, UP_MAP)


def _polyphase(x):
    """Polyphase components of ``x`` padded by one pixel (H, W even): ``(N, C, 4 * L)`` flat, and the row
    width ``W/2 + 1`` and plane length ``L`` of each component."""
    n, c, hh, ww = x.shape
    h, w = hh // 2, ww // 2
    wq = w + 1
    lq = (h + 1) * wq + 1
    buf = numpy.empty((n, c, 4, lq), dtype=x.dtype)
    buf[..., (h + 1) * wq:] = 0
    planes = buf[..., :(h + 1) * wq].reshape(n, c, 4, h + 1, wq)
    for p in range(2):
        for q in range(2):
            plane = planes[:, :, 2 * p + q]
            r0, c0 = 1 - p, 1 - q
            plane[:, :, h if p else 0] = 0
            plane[:, :, :, w if q else 0] = 0
            plane[:, :, r0:r0 + h, c0:c0 + w] = x[:, :, 1 - p::2, 1 - q::2]
    return buf.reshape(n, c, 4 * lq), wq, lq


def _down_offsets(wq, lq):
    return [(p * 2 + q) * lq + u * wq + v for p in range(2) for q in range(2) for u in range(2) for v in range(2)]


def _conv3x3_sumpool(x, wsum):
    """``sum_pool_2x2(conv3x3(x, w))`` from summed weights ``wsum = _summed(w, DOWN_MAP)`` (O, C, 16)."""
    n, c, hh, ww = x.shape
    o = wsum.shape[0]
    buf, wq, lq = _polyphase(x)
    out = _taps_matmul(buf, _down_offsets(wq, lq), wsum.reshape(o, c * 16), (hh // 2) * wq)
    return out, hh // 2, ww // 2, wq


def _conv3x3_sumpool_grad_w(x, gy):
    """Gradient of ``sum_pool_2x2(conv3x3(x, w))`` with respect to ``w``."""
    n, c, hh, ww = x.shape
    o = gy.shape[1]
    buf, wq, lq = _polyphase(x)
    g16 = _taps_corr(_rows(gy, wq), buf, _down_offsets(wq, lq), (hh // 2) * wq).reshape(o, c, 16)
    return _unsummed(g16, DOWN_MAP)


def _sum_to(a, shape):
    if a.shape == tuple(shape):
        return a
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and a.shape[i + lead] != 1)
    out = a.sum(axis=axes, keepdims=True)
    if lead:
        out = out.reshape(out.shape[lead:])
    return out.reshape(shape)


def _var(a):
    return None if a is None else chainer.Variable(a)


# ------------------------------------------------------------------------------------------ function nodes
class Convolution2DFunction(function_node.FunctionNode):
    """``F.convolution_2d(x, W, b, stride=1, pad=pad)`` on the CPU."""

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
        if kind == "1x1":
            y = numpy.matmul(w.reshape(o, c), x.reshape(n, c, h * wd))
            if b is not None:
                y += b.reshape(1, o, 1)
            return y.reshape(n, o, h, wd),
        if kind == "3x3":
            out, h, wd, wp = _conv3x3(x, w)
            return _crop(out, h, wd, wp, b),
        kh, kw = w.shape[2:]
        col = conv_utils.im2col_cpu(x, kh, kw, 1, 1, self.pad, self.pad)
        oh, ow = col.shape[4:]
        y = numpy.matmul(w.reshape(o, -1), col.reshape(n, c * kh * kw, oh * ow))
        if b is not None:
            y += b.reshape(1, o, 1)
        return y.reshape(n, o, oh, ow),

    def backward(self, indexes, grad_outputs):
        x, w = (v.array for v in self.get_retained_inputs())
        gy = grad_outputs[0].array
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        kind = self._kind(w)
        gx = gw = gb = None
        if 0 in indexes:
            if kind == "1x1":
                gx = numpy.matmul(w.reshape(o, c).T, gy.reshape(n, o, h * wd)).reshape(x.shape)
            elif kind == "3x3":
                wt = _cached(self.owner, "flip_t", lambda: _flip_t(w))
                out, _, _, wp = _conv3x3(gy, wt)
                gx = _crop(out, h, wd, wp)
            else:
                oh, ow = gy.shape[2:]
                gcol = numpy.matmul(w.reshape(o, -1).T, gy.reshape(n, o, oh * ow))
                gx = conv_utils.col2im_cpu(gcol.reshape(n, c, kh, kw, oh, ow), 1, 1, self.pad, self.pad, h, wd)
        if 1 in indexes:
            if kind == "1x1":
                gw = numpy.matmul(gy.reshape(n, o, -1), x.reshape(n, c, -1).transpose(0, 2, 1)).sum(axis=0)
                gw = gw.reshape(w.shape)
            elif kind == "3x3":
                gw = _conv3x3_grad_w(x, gy)
            else:
                col = conv_utils.im2col_cpu(x, kh, kw, 1, 1, self.pad, self.pad)
                gw = numpy.tensordot(gy, col, ((0, 2, 3), (0, 4, 5))).reshape(w.shape)
        if 2 in indexes:
            gb = gy.sum(axis=(0, 2, 3))
        return tuple(_var(g) for g in (gx, gw, gb)[:len(self.inputs)])


class UpsampleConvolution2DFunction(function_node.FunctionNode):
    """``F.convolution_2d(upsample_nearest_2x(x), W, b, pad=1)`` for 3x3 ``W``, on the CPU."""

    def __init__(self, owner=None):
        self.owner = owner

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, w = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        h, wd = x.shape[2:]
        self.direct = h * wd < PHASE_MIN_PIXELS and not _caching(self.owner)
        phases = None if self.direct else _cached(self.owner, "phases", lambda: _phase_weights(w))
        y = _up_conv3x3(x, w, phases)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y,

    def backward(self, indexes, grad_outputs):
        x, w = (v.array for v in self.get_retained_inputs())
        gy = grad_outputs[0].array
        gx = gw = gb = None
        if 0 in indexes:
            wsum = _cached(self.owner, "flip_t_down", lambda: _summed(_flip_t(w), DOWN_MAP))
            out, h, wd, wq = _conv3x3_sumpool(gy, wsum)
            gx = _crop(out, h, wd, wq)
        if 1 in indexes:
            gw = _up_conv3x3_grad_w(x, gy, self.direct)
        if 2 in indexes:
            gb = gy.sum(axis=(0, 2, 3))
        return tuple(_var(g) for g in (gx, gw, gb)[:len(self.inputs)])


class Convolution2DAvgPoolFunction(function_node.FunctionNode):
    """``F.average_pooling_2d(F.convolution_2d(x, W, b, pad=1), 2)`` for 3x3 ``W`` and even H, W, on the CPU."""

    def __init__(self, owner=None):
        self.owner = owner

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, w = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        wsum = _cached(self.owner, "down", lambda: _summed(w * w.dtype.type(0.25), DOWN_MAP))
        out, h, wd, wq = _conv3x3_sumpool(x, wsum)
        return _crop(out, h, wd, wq, b),

    def backward(self, indexes, grad_outputs):
        x, w = (v.array for v in self.get_retained_inputs())
        gy = grad_outputs[0].array
        gx = gw = gb = None
        if 0 in indexes:
            h, wd = gy.shape[2:]
            direct = h * wd < PHASE_MIN_PIXELS and not _caching(self.owner)
            phases = None if direct else _cached(
                self.owner, "flip_t_phases", lambda: _phase_weights(_flip_t(w) * w.dtype.type(0.25)))
            gx = _up_conv3x3(gy, _flip_t(w) * w.dtype.type(0.25) if direct else None, phases)
        if 1 in indexes:
            gw = _conv3x3_sumpool_grad_w(x, gy) * w.dtype.type(0.25)
        if 2 in indexes:
            gb = gy.sum(axis=(0, 2, 3))
        return tuple(_var(g) for g in (gx, gw, gb)[:len(self.inputs)])


class UpsampleAdd(function_node.FunctionNode):
    """``h + upsample_nearest_2x(s)``."""

    def forward(self, inputs):
        h, s = inputs
        n, c, hh, ww = h.shape
        y = h.copy()
        y.reshape(n, c, hh // 2, 2, ww // 2, 2)[...] += s[:, :, :, None, :, None]
        return y,

    def backward(self, indexes, grad_outputs):
        gy = grad_outputs[0].array
        n, c, hh, ww = gy.shape
        gs = gy.reshape(n, c, hh // 2, 2, ww // 2, 2).sum(axis=(3, 5)) if 1 in indexes else None
        return grad_outputs[0] if 0 in indexes else None, _var(gs)


class AveragePooling2x2(function_node.FunctionNode):
    """``F.average_pooling_2d(x, 2)`` for even H, W."""

    def forward(self, inputs):
        x, = inputs
        n, c, hh, ww = x.shape
        y = x.reshape(n, c, hh // 2, 2, ww // 2, 2).sum(axis=(3, 5))
        y *= x.dtype.type(0.25)
        return y,

    def backward(self, indexes, grad_outputs):
        gy = grad_outputs[0].array * grad_outputs[0].dtype.type(0.25)
        return chainer.Variable(_upsample(gy)),


class BatchNormReLU(function_node.FunctionNode):
    """``relu(gamma * (x - mean) / sqrt(var + eps) + beta)``: test-mode (s)CBN then ReLU.

    ``gamma``/``beta`` broadcast against ``x (N, C, H, W)``: ``(N, C, 1, 1)`` or ``(N, C, H, W)``.
    ``mean``/``var`` ``(C,)`` are constants. Same operations in the same order as Chainer's
    ``fixed_batch_normalization`` (with unit scale) followed by the affine transform and ``F.relu``.
    """

    def __init__(self, mean, var, eps):
        self.mean = mean
        self.eps = eps
        var = var + eps
        inv_var = numpy.reciprocal(var)
        self.inv_std = numpy.sqrt(inv_var, dtype=inv_var.dtype)

    def _xhat(self, x):
        c = x.shape[1]
        xhat = x - self.mean.reshape(1, c, 1, 1)
        xhat *= self.inv_std.reshape(1, c, 1, 1)
        return xhat

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, gamma, beta = inputs
        y = self._xhat(x)
        y *= gamma
        y += beta
        numpy.maximum(y, 0, out=y, dtype=y.dtype)
        self.retain_outputs((0,))
        return y,

    def backward(self, indexes, grad_outputs):
        x, gamma = (v.array for v in self.get_retained_inputs())
        y = self.get_retained_outputs()[0].array
        g = grad_outputs[0].array * (y > 0)
        c = x.shape[1]
        gx = ggamma = gbeta = None
        if 0 in indexes:
            gx = g * gamma
            gx *= self.inv_std.reshape(1, c, 1, 1)
        if 1 in indexes:
            ggamma = _sum_to(g * self._xhat(x), gamma.shape)
        if 2 in indexes:
            gbeta = _sum_to(g, self.inputs[2].shape)
        return _var(gx), _var(ggamma), _var(gbeta)


# ----------------------------------------------------------------------------------------- public functions
def _inputs(x, w, b):
    return (x, w) if b is None else (x, w, b)


def convolution_2d(x, W, b=None, *, pad=0, owner=None):
    """``F.convolution_2d(x, W, b, stride=1, pad=pad)``; the fast path on NumPy arrays.

    ``owner``: an object whose lifetime identifies ``W`` (the link's Parameter), allowing derived weights to
    be cached inside :func:`constant_parameters`.
    """
    if not enabled_for(x):
        return F.convolution_2d(x, W, b, stride=1, pad=pad)
    return Convolution2DFunction(pad, owner).apply(_inputs(x, W, b))[0]


def upsample_nearest(x):
    """Nearest-neighbour 2x upsampling ``(N, C, H, W)`` -> ``(N, C, 2H, 2W)`` (any device)."""
    n, c, h, w = x.shape
    x = F.reshape(x, (n, c, h, 1, w, 1))
    x = F.broadcast_to(x, (n, c, h, 2, w, 2))
    return F.reshape(x, (n, c, 2 * h, 2 * w))


def upsample_convolution_2d(x, W, b=None, *, owner=None):
    """``F.convolution_2d(upsample_nearest(x), W, b, pad=1)`` for 3x3 kernels; fast on NumPy arrays."""
    if not enabled_for(x) or W.shape[2:] != (3, 3):
        return F.convolution_2d(upsample_nearest(x), W, b, stride=1, pad=1)
    return UpsampleConvolution2DFunction(owner).apply(_inputs(x, W, b))[0]


def convolution_2d_avgpool(x, W, b=None, *, owner=None):
    """``F.average_pooling_2d(F.convolution_2d(x, W, b, pad=1), 2)`` for 3x3 kernels; fast on NumPy arrays
    with even height and width."""
    if not enabled_for(x) or W.shape[2:] != (3, 3) or x.shape[2] % 2 or x.shape[3] % 2:
        return F.average_pooling_2d(F.convolution_2d(x, W, b, stride=1, pad=1), 2)
    return Convolution2DAvgPoolFunction(owner).apply(_inputs(x, W, b))[0]


def average_pooling_2x2(x):
    """``F.average_pooling_2d(x, 2)``; fast on NumPy arrays with even height and width."""
    if not enabled_for(x) or x.shape[2] % 2 or x.shape[3] % 2:
        return F.average_pooling_2d(x, 2)
    return AveragePooling2x2().apply((x,))[0]


def upsample_add(h, s):
    """``h + upsample_nearest(s)`` with ``h (N, C, 2H, 2W)`` and ``s (N, C, H, W)``."""
    if not enabled_for(h):
        return h + upsample_nearest(s)
    return UpsampleAdd().apply((h, s))[0]


def batch_norm_relu(x, gamma, beta, mean, var, *, eps):
    """``F.relu(gamma * F.fixed_batch_normalization(x, 1, 0, mean, var, eps) + beta)``.

    ``x (N, C, H, W)``; ``gamma``, ``beta``: ``(N, C)`` or ``(N, C, H, W)`` (Variables or arrays);
    ``mean``, ``var``: ``(C,)`` arrays (constants). One fused function on NumPy arrays.
    """
    n, c = x.shape[:2]
    if gamma.ndim == 2:
        gamma = F.reshape(gamma, (n, c, 1, 1))
        beta = F.reshape(beta, (n, c, 1, 1))
    if not enabled_for(x):
        xp = chainer.backend.get_array_module(x)
        ones = xp.ones(c, dtype=x.dtype)
        zeros = xp.zeros(c, dtype=x.dtype)
        xhat = F.fixed_batch_normalization(x, ones, zeros, mean, var, eps=eps)
        return F.relu(F.broadcast_to(gamma, x.shape) * xhat + F.broadcast_to(beta, x.shape))
    return BatchNormReLU(mean, var, eps).apply((x, gamma, beta))[0]


class Convolution2D(L.Convolution2D):
    """``L.Convolution2D`` (stride 1, same parameters and keys) running the fast functions.

    ``link(x)`` is the convolution, ``link(x, upsample=True)`` the convolution of the 2x nearest-upsampled
    input (:func:`upsample_convolution_2d`), ``link(x, pool=True)`` the 2x2 average-pooled convolution
    (:func:`convolution_2d_avgpool`). Link hooks (spectral norm) run as usual; inside
    :func:`constant_parameters` a spectral-norm hook's normalised weight is computed once and reused.
    """

    def __init__(self, in_channels, out_channels, ksize, *, pad=0, initialW=None, nobias=False):
        super().__init__(in_channels, out_channels, ksize, stride=1, pad=pad, nobias=nobias, initialW=initialW)

    def __call__(self, x, **kwargs):
        hook = self._frozen_spectral_norm()
        if hook is None:
            return super().__call__(x, **kwargs)
        w = _cached(self.W.array, "spectral_norm", lambda: _array(hook.normalize_weight(self)))
        return self._forward(x, w, **kwargs)

    def _frozen_spectral_norm(self):
        """The spectral-norm hook, when it is this link's only hook and its result can be cached."""
        if not parameters_constant() or chainer.config.train or chainer._get_link_hooks():
            return None
        hooks = self.local_link_hooks
        hook = hooks.get("SpectralNormalization") if len(hooks) == 1 else None
        if hook is None or not getattr(hook, "_initialized", False) or not enabled_for(self.W):
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
