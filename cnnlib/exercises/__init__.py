"""Checkers for the learners' exercises, one module per topic.

Each ``check_*`` takes the learner's class or function, compares it with ``cnnlib``'s reference on
seeded random inputs, with a numerical gradient where a gradient is asked, and on a small fixed case
a learner can work out by hand. A wrong answer raises :class:`ExerciseError` with a message that
says what is wrong; a right one prints one line ``correct: ...``. A checker of a class returns
the class, so a notebook can write ``ReLU = check_relu(MyReLU)``: the later cells use the
learner's class once it passes, and ``cnnlib``'s until then. The checkers of functions that later
cells call (naive convolution forward and backward, im2col, col2im, the convolution as one product,
dW by im2col) return the function in the same way.

The modules: :mod:`~cnnlib.exercises.diagnosis` (what every checker shares: calling the learner's
code, comparing and naming the mistake), then by topic :mod:`~cnnlib.exercises.graphs`,
:mod:`~cnnlib.exercises.layers`, :mod:`~cnnlib.exercises.two_layer_net`,
:mod:`~cnnlib.exercises.convolution`, :mod:`~cnnlib.exercises.pooling`,
:mod:`~cnnlib.exercises.lenet5`, :mod:`~cnnlib.exercises.evaluation`,
:mod:`~cnnlib.exercises.feature_maps`, :mod:`~cnnlib.exercises.optimizers` (SGD with momentum,
RMSprop, Adam),
:mod:`~cnnlib.exercises.normalisation`, :mod:`~cnnlib.exercises.regularisation`,
:mod:`~cnnlib.exercises.interpretation`, :mod:`~cnnlib.exercises.building_blocks` and
:mod:`~cnnlib.exercises.torch_bridge` (PyTorch imported only when its checker runs). The student
edition of the notebooks is written by :mod:`cnnlib.student_edition`.
"""

from .building_blocks import check_conv1x1, check_global_avg_pool, check_residual
from .convolution import (
    CONV_W,
    CONV_X,
    check_blur,
    check_col2im,
    check_conv_backward_naive,
    check_conv_forward_im2col,
    check_conv_forward_naive,
    check_dw_by_im2col,
    check_im2col,
)
from .diagnosis import TOLERANCE, ExerciseError
from .evaluation import check_confidence, check_most_confused, confidence, most_confused
from .feature_maps import accuracy_drop, check_favourite_class, check_feature_maps, check_knockout
from .graphs import check_add_layer, check_add_mul, check_mul_layer, check_passes, check_shipping
from .interpretation import check_fgsm, check_occlusion, check_saliency, check_targeted_attack
from .layers import (
    Tanh,
    check_affine,
    check_relu,
    check_sigmoid,
    check_softmax,
    check_softmax_with_loss,
    check_tanh,
)
from .lenet5 import LENET5_LAYERS, check_lenet5
from .normalisation import (
    check_batchnorm_backward,
    check_batchnorm_forward,
    check_groupnorm_backward,
)
from .optimizers import ADAM_MISTAKES, check_adam, check_rmsprop, check_sgd_momentum
from .pooling import (
    POOL_X,
    check_avg_pool_as_conv,
    check_max_pool_backward,
    check_max_pool_forward,
    check_routed_fraction,
)
from .regularisation import SEARCH_RANGES, check_dropout, check_random_search, random_search
from .torch_bridge import affine_to_linear, check_affine_to_linear
from .two_layer_net import (
    FIXED_TWO_LAYER,
    TWO_LAYER_KEYS,
    check_bad_examples,
    check_n_params,
    check_sgd_step,
    check_two_layer_backward,
    sgd_step,
    two_layer_backward,
)

__all__ = [
    "TOLERANCE", "ExerciseError",
    "check_mul_layer", "check_add_layer", "check_shipping", "check_add_mul", "check_passes",
    "Tanh", "check_relu", "check_sigmoid", "check_tanh", "check_affine", "check_softmax_with_loss",
    "check_softmax",
    "TWO_LAYER_KEYS", "FIXED_TWO_LAYER", "two_layer_backward", "sgd_step",
    "check_two_layer_backward", "check_sgd_step", "check_n_params", "check_bad_examples",
    "CONV_X", "CONV_W", "check_conv_forward_naive", "check_im2col", "check_conv_forward_im2col",
    "check_blur", "check_conv_backward_naive", "check_col2im", "check_dw_by_im2col",
    "POOL_X", "check_max_pool_forward", "check_max_pool_backward", "check_routed_fraction",
    "check_avg_pool_as_conv",
    "LENET5_LAYERS", "check_lenet5",
    "most_confused", "confidence", "check_most_confused", "check_confidence",
    "accuracy_drop", "check_feature_maps", "check_favourite_class", "check_knockout",
    "ADAM_MISTAKES", "check_adam", "check_rmsprop", "check_sgd_momentum",
    "check_batchnorm_forward", "check_batchnorm_backward", "check_groupnorm_backward",
    "check_dropout", "SEARCH_RANGES", "random_search", "check_random_search",
    "check_saliency", "check_occlusion", "check_fgsm", "check_targeted_attack",
    "check_conv1x1", "check_global_avg_pool", "check_residual",
    "affine_to_linear", "check_affine_to_linear",
]
