"""CPU fast path for the 2-D convolutions of the generators and discriminators.

Chainer's CPU convolution multiplies its im2col buffer with ``numpy.tensordot``, which first transposes the
buffer into a fresh copy; on these models that copy costs more than the matrix product itself.
:func:`convolution_2d` computes exactly the same maths (stride 1, any padding) as a batched matrix product
on the im2col buffer's natural layout, with no transposed copy, and 1x1 convolutions with no im2col at all.
It is used on NumPy arrays only; CuPy arrays go to ``F.convolution_2d`` (cuDNN).
"""
from neuralcollage import _compat  # noqa: F401

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import function_node
from chainer.utils import conv as conv_utils

ENABLED = True


class _Convolution2DCPU(function_node.FunctionNode):

    def __init__(self, pad):
        self.pad = pad

    def _col(self, x, kh, kw):
        n, c, h, w = x.shape
        if kh == kw == 1 and self.pad == 0:
            return x.reshape(n, c, h * w), h, w
        col = conv_utils.im2col_cpu(x, kh, kw, 1, 1, self.pad, self.pad)
        oh, ow = col.shape[4:]
        return col.reshape(n, c * kh * kw, oh * ow), oh, ow

    def forward(self, inputs):
        x, W = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        o, _, kh, kw = W.shape
        col, oh, ow = self._col(x, kh, kw)
        self.col = col
        self.retain_inputs((0, 1))
        y = numpy.matmul(W.reshape(o, -1), col)
        if b is not None:
            y += b[None, :, None]
        return y.reshape(x.shape[0], o, oh, ow),

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        gy = grad_outputs[0].array
        n, c, h, w = x.shape
        o, _, kh, kw = W.shape
        gy = gy.reshape(n, o, -1)
        grads = []
        if 0 in indexes:
            gcol = numpy.matmul(W.array.reshape(o, -1).T, gy)
            if kh == kw == 1 and self.pad == 0:
                gx = gcol.reshape(n, c, h, w)
            else:
                oh, ow = h + 2 * self.pad - kh + 1, w + 2 * self.pad - kw + 1
                gx = conv_utils.col2im_cpu(gcol.reshape(n, c, kh, kw, oh, ow), 1, 1, self.pad, self.pad, h, w)
            grads.append(chainer.Variable(gx.astype(x.dtype, copy=False)))
        else:
            grads.append(None)
        if 1 in indexes:
            gW = numpy.matmul(gy, self.col.transpose(0, 2, 1)).sum(axis=0)
            grads.append(chainer.Variable(gW.reshape(W.shape).astype(W.dtype, copy=False)))
        else:
            grads.append(None)
        if 2 in indexes:
            grads.append(chainer.Variable(gy.sum(axis=(0, 2))))
        return tuple(grads)


def convolution_2d(x, W, b=None, *, pad=0):
    """``F.convolution_2d(x, W, b, stride=1, pad=pad)``; the fast path on NumPy arrays when enabled."""
    xa = x.array if isinstance(x, chainer.Variable) else x
    if not ENABLED or not isinstance(xa, numpy.ndarray):
        return F.convolution_2d(x, W, b, stride=1, pad=pad)
    inputs = (x, W) if b is None else (x, W, b)
    return _Convolution2DCPU(pad).apply(inputs)[0]


class Convolution2D(L.Convolution2D):
    """``L.Convolution2D`` (stride 1, same parameters and keys) that runs :func:`convolution_2d`."""

    def __init__(self, in_channels, out_channels, ksize, *, pad=0, initialW=None, nobias=False):
        super().__init__(in_channels, out_channels, ksize, stride=1, pad=pad, nobias=nobias, initialW=initialW)

    def forward(self, x):
        return convolution_2d(x, self.W, self.b, pad=self.pad[0])
