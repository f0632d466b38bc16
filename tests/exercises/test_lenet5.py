"""The checkers of the LeNet-5 assembly exercise (cnnlib.exercises.lenet5) accept right answers
(written independently of cnnlib where the exercise allows) and name each typical mistake."""


import numpy as np

from cnnlib import exercises, layers
from cnnlib.models import LeNet5, Sequential

from .helpers import checker_tests, stub


def lenet(change=lambda items, rng: items, named=True):
    """LeNet5's layers, changed by ``change(items, rng)``, in a Sequential."""
    def build(rng=None):
        items = change(list(LeNet5(rng=rng).layers.items()), rng)
        return Sequential(*(items if named else [layer for _, layer in items]))
    return build


def replace(index, layer_of_rng):
    def change(items, rng):
        items[index] = (items[index][0], layer_of_rng(rng))
        return items
    return change


def drop_layer(index):
    return lambda items, rng: items[:index] + items[index + 1:]


def lenet_by_hand(rng=None):
    """LeNet-5 written out layer by layer (not cnnlib's LeNet5)."""
    return Sequential(
        ("conv1", layers.Conv2D(1, 6, 5, pad=2, rng=rng)), ("relu1", layers.ReLU()),
        ("pool1", layers.MaxPool2D(2)),
        ("conv2", layers.Conv2D(6, 16, 5, rng=rng)), ("relu2", layers.ReLU()),
        ("pool2", layers.MaxPool2D(2)), ("flatten", layers.Flatten()),
        ("fc1", layers.Affine(400, 120, rng=rng)), ("relu3", layers.ReLU()),
        ("fc2", layers.Affine(120, 84, rng=rng)), ("relu4", layers.ReLU()),
        ("fc3", layers.Affine(84, 10, rng=rng)))


def lenet_from_a_table(rng):
    """LeNet-5 built in a loop from a table of (kind, settings), names counted per kind."""
    table = [("conv", (1, 6, 2)), ("relu", ()), ("pool", ()), ("conv", (6, 16, 0)), ("relu", ()),
             ("pool", ()), ("flatten", ()), ("fc", (400, 120)), ("relu", ()), ("fc", (120, 84)),
             ("relu", ()), ("fc", (84, 10))]
    counts, pairs = {}, []
    for kind, args in table:
        counts[kind] = counts.get(kind, 0) + 1
        name = kind if kind == "flatten" else f"{kind}{counts[kind]}"
        if kind == "conv":
            layer = layers.Conv2D(args[0], args[1], 5, pad=args[2], rng=rng)
        elif kind == "fc":
            layer = layers.Affine(*args, rng=rng)
        else:
            layer = {"relu": layers.ReLU, "pool": lambda: layers.MaxPool2D(2),
                     "flatten": layers.Flatten}[kind]()
        pairs.append((name, layer))
    return Sequential(*pairs)


def lenet_in_stages(rng):
    """LeNet-5 as two conv stages and a classifier, concatenated."""
    def stage(i, c_in, c_out, pad):
        return [(f"conv{i}", layers.Conv2D(c_in, c_out, kernel_size=5, stride=1, pad=pad,
                                           rng=rng)),
                (f"relu{i}", layers.ReLU()), (f"pool{i}", layers.MaxPool2D(size=2, stride=2))]
    head = [("flatten", layers.Flatten()), ("fc1", layers.Affine(16 * 5 * 5, 120, rng=rng)),
            ("relu3", layers.ReLU()), ("fc2", layers.Affine(120, 84, rng=rng)),
            ("relu4", layers.ReLU()), ("fc3", layers.Affine(84, 10, rng=rng))]
    return Sequential(*(stage(1, 1, 6, 2) + stage(2, 6, 16, 0) + head))


def fixed_seed_per_layer(rng):
    """Ignores ``rng``: every layer with weights draws from its own fixed seed."""
    return lenet_by_hand(rng=np.random.default_rng(7))


def one_relu_object(items, rng):
    """One ReLU() reused at all four places, as ``relu = ReLU()`` written once would."""
    relu = layers.ReLU()
    return [(name, relu if isinstance(layer, layers.ReLU) else layer) for name, layer in items]


def pool_before_relu(items, rng):
    items[1], items[2] = items[2], items[1]
    return items


REFERENCES = [
    (exercises.check_lenet5, LeNet5),
    (exercises.check_lenet5, lenet_by_hand),
    (exercises.check_lenet5, lenet_from_a_table),
    (exercises.check_lenet5, lenet_in_stages),
]

# checkers of functions that later cells use: a notebook writes f = check_f(my_f)
RETURN_THE_FUNCTION = {
    exercises.check_lenet5,
}


WRONG = [
    (exercises.check_lenet5, stub, "your LeNet-5 builder is not written yet: the hint"),
    (exercises.check_lenet5, lenet(replace(0, lambda r: layers.Conv2D(1, 6, 5, pad=2, init=0.0))),
     "layer 1 (conv1, LeNet-5's Conv2D)'s weights are all zeros"),
    (exercises.check_lenet5, lenet(replace(0, lambda r: layers.Conv2D(1, 6, 5, rng=r))),
     "layer 1 (conv1, LeNet-5's Conv2D) has pad=0, stride=1: expected pad=2, stride=1. Its maps "
     "come out 24x24 instead of 28x28 (with stride 1), so fc1 would get 256 inputs, not 400"),
    (exercises.check_lenet5, lenet(replace(3, lambda r: layers.Conv2D(6, 16, 5, pad=2, rng=r))),
     "fc1 would get 784 inputs, not 400"),
    (exercises.check_lenet5, lenet(replace(3, lambda r: layers.Conv2D(16, 6, 5, rng=r))),
     "layer 4 (conv2, LeNet-5's Conv2D) has weights of shape (6, 16, 5, 5): expected 16 filters "
     "of 6 x 5 x 5"),
    (exercises.check_lenet5, lenet(drop_layer(1)), "a ReLU is missing after conv1: layer 2 (relu1, "
     "LeNet-5's ReLU) should be ReLU(), got MaxPool2D(size=2, stride=2)"),
    (exercises.check_lenet5, lenet(drop_layer(10)), "a ReLU is missing after fc2"),
    (exercises.check_lenet5, lenet(replace(2, lambda r: layers.AvgPool2D(2))),
     "layer 3 (pool1, LeNet-5's MaxPool2D) is average pooling"),
    (exercises.check_lenet5, lenet(replace(5, lambda r: layers.MaxPool2D(2, stride=1))),
     "layer 6 (pool2, LeNet-5's MaxPool2D) is MaxPool2D(size=2, stride=1): LeNet-5 pools 2x2 "
     "windows with stride 2"),
    (exercises.check_lenet5, lenet(drop_layer(6)), "add Flatten() before fc1"),
    (exercises.check_lenet5, lenet(lambda items, rng: items + [("relu5", layers.ReLU())]),
     "there is a ReLU after fc3"),
    (exercises.check_lenet5, lenet(drop_layer(11)), "the network stops after 11 layers: missing: "
     "fc3"),
    (exercises.check_lenet5, lenet(named=False), "layer 1 is named 'conv2d0': name it 'conv1'"),
    (exercises.check_lenet5, lenet(replace(0, lambda r: layers.Conv2D(1, 6, 5, pad=2))),
     "two builds with the same rng gave different "
     "weights: pass rng=rng to every Conv2D and Affine"),
    (exercises.check_lenet5, fixed_seed_per_layer, "two different seeds gave the same weights "
     "for conv1.W"),
    (exercises.check_lenet5, lenet(pool_before_relu), "layers 2 and 3 are in the other order: "
     "yours pools before the ReLU after conv1"),
    (exercises.check_lenet5, lenet(one_relu_object), "'relu1' and 'relu2' are the same ReLU "
     "object"),
    (exercises.check_lenet5, lambda rng: list(LeNet5(rng=rng).layers.values()),
     "return the network as a Sequential of the layers, got list"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
