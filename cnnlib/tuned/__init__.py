"""The tuned path: the same numbers as the plain layers, computed faster.

The plain path (:mod:`cnnlib.conv`, :mod:`cnnlib.pool`, :mod:`cnnlib.layers`) is what the notebooks
derive, line by line. This subpackage is an explicit optimisation beside it, and every function here
is tested against its plain twin:

* :mod:`cnnlib.tuned.conv`: ``conv2d_forward`` / ``conv2d_backward`` with the signatures of the
  plain pair (run copies, the bias as a row of ones, per-image products, the wide-grid input
  gradient);
* :mod:`cnnlib.tuned.blocks`: conv -> ReLU -> 2x2 max pool fused into one step, two routes;
* :mod:`cnnlib.tuned.layers`: :class:`TunedConv2D`, :class:`ConvReLUPool` and :func:`fuse_layers`,
  and
  :func:`fuse` below, which turn a plain model into a tuned one (``LeNet5(tuned=True)`` uses them);
* :mod:`cnnlib.tuned.parallel`: :class:`SplitBatch`, a training step split across threads, and
  :mod:`cnnlib.tuned.processes`: :class:`ProcessSplit`, the same across processes (what
  ``fit(..., workers=2)`` runs);
* :mod:`cnnlib.tuned.resnet`: channel-major convolutions and batch norm for the small ResNet
  (``small_resnet(tuned=True)``, or ``fuse`` of a plain one).
"""

import copy

from .blocks import (
    conv_relu_pool_backward,
    conv_relu_pool_forward,
    first_conv_relu_pool_backward,
    first_conv_relu_pool_forward,
)
from .conv import conv2d_backward, conv2d_forward
from .layers import ConvReLUPool, TunedConv2D, fuse_layers
from .parallel import SplitBatch, check_splittable
from .processes import ProcessSplit
from .resnet import CNHWBatchNorm2D, CNHWConv2D, fuse_nested

__all__ = ["conv2d_forward", "conv2d_backward", "conv_relu_pool_forward", "conv_relu_pool_backward",
           "first_conv_relu_pool_forward", "first_conv_relu_pool_backward",
           "TunedConv2D", "ConvReLUPool",
           "fuse_layers", "fuse", "SplitBatch", "ProcessSplit", "check_splittable", "CNHWConv2D",
           "CNHWBatchNorm2D", "fuse_nested"]


def fuse(model):
    """A model that computes what ``model`` (a :class:`~cnnlib.models.Sequential`) computes on the
    tuned path: a copy of it whose layers are :func:`fuse_layers` of its layers, sharing ``model``'s
    parameter arrays, loss layer, mode and ``input_grad``; blocks (a ResNet's) are copied with
    channel-major convolutions and batch norms inside (:func:`cnnlib.tuned.resnet.fuse_nested`).
    (A copy, not a new ``Sequential``: this package sits below :mod:`cnnlib.models` and does not
    import it.)"""
    fused = copy.copy(model)
    fused.layers = dict(fuse_nested(model.layers.items()))
    fused.last_scores = None
    fused.input_grad = model.input_grad    # tells the new first layer
    return fused
