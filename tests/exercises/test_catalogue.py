"""Every checker in cnnlib.exercises is tested: with at least one right answer, and rejecting a
stub, zeros and at least two more wrong answers."""

import importlib.util

from cnnlib import exercises

from . import (
    test_building_blocks,
    test_convolution,
    test_evaluation,
    test_feature_maps,
    test_graphs,
    test_interpretation,
    test_layers,
    test_lenet5,
    test_momentum,
    test_normalisation,
    test_optimizers,
    test_pooling,
    test_regularisation,
    test_two_layer_net,
)

TOPICS = [test_graphs, test_layers, test_two_layer_net, test_convolution, test_pooling,
          test_lenet5, test_evaluation, test_feature_maps, test_optimizers, test_momentum,
          test_normalisation,
          test_regularisation, test_building_blocks, test_interpretation]
# notebook 14's checker is tested where PyTorch is installed (its tests skip without it)
TORCH = importlib.util.find_spec("torch") is not None
if TORCH:
    from . import test_torch_bridge

    TOPICS.append(test_torch_bridge)
# test modules named after their exercise rather than their checker module
MODULE_OF = {"momentum": "optimizers"}


def test_every_checker_is_tested_with_a_stub_and_zeros():
    references = [c.__name__ for topic in TOPICS for c, _ in topic.REFERENCES] + ["check_knockout"]
    wrong = [(c.__name__, m) for topic in TOPICS for c, _, m in topic.WRONG]
    wrong += [("check_knockout", m) for _, m in test_feature_maps.KNOCKOUT_WRONG]
    checkers = {name for name in dir(exercises) if name.startswith("check_")}
    if not TORCH:
        checkers.discard("check_affine_to_linear")
    assert checkers == set(references)
    for name in checkers:
        messages = [m for c, m in wrong if c == name]
        assert any("not written yet" in m for m in messages), name
        assert any("zeros" in m or "0 points" in m for m in messages), name   # a scalar: 0
        assert len(messages) >= 4, name


def test_each_topic_tests_only_its_own_module_checkers():
    for topic in TOPICS:
        module = topic.__name__.rsplit(".", 1)[-1].removeprefix("test_")
        module = MODULE_OF.get(module, module)
        for checker, *_ in topic.REFERENCES + topic.WRONG:
            assert checker.__module__ == f"cnnlib.exercises.{module}", (topic, checker)
