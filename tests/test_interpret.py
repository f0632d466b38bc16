import numpy as np
import pytest

from cnnlib import interpret
from cnnlib.functions import softmax
from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.layers import Affine, Conv2D, MaxPool2D, ReLU, SoftmaxWithLoss
from cnnlib.models import LeNet5, Sequential


def small_net(channels=2, seed=0, input_grad=True):
    rng = np.random.default_rng(seed)
    model = Sequential(("conv", Conv2D(channels, 3, 3, pad=1, dtype=np.float64, rng=rng)),
                       ("relu", ReLU()), ("pool", MaxPool2D(2)),
                       ("fc", Affine(48, 4, dtype=np.float64, rng=rng)), input_grad=input_grad)
    model.params["conv.b"][:] = [0.1, 0.0, -0.1]
    return model


def images(n=3, channels=2, seed=1):
    return np.random.default_rng(seed).random((n, channels, 8, 8))


def test_score_gradient_matches_the_numerical_derivative_of_the_class_score():
    model, x, target = small_net(), images(), np.array([2, 0, 3])
    grad = interpret.score_gradient(model, x, target, batch_size=2)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    for n in range(len(x)):
        one = x[n:n + 1].copy()
        numeric = numerical_gradient(lambda v, n=n: model.forward(v)[0, target[n]], one)
        assert rel_error(grad[n:n + 1], numeric) < 1e-7


def test_saliency_is_the_largest_absolute_gradient_over_channels():
    model, x = small_net(), images()
    target = np.array([1, 1, 2])
    grad = interpret.score_gradient(model, x, target)
    maps = interpret.saliency(model, x, target)
    assert maps.shape == (3, 8, 8)
    np.testing.assert_allclose(maps, np.abs(grad).max(axis=1))
    predicted = model.forward(x).argmax(axis=1)
    np.testing.assert_allclose(interpret.saliency(model, x),
                               interpret.saliency(model, x, predicted))


def test_saliency_of_a_linear_model_is_its_weights():
    model = Sequential(Affine(16, 3, dtype=np.float64, rng=np.random.default_rng(0)),
                       input_grad=True)
    x = images(2, 1)[:, :, :4, :4].copy()
    maps = interpret.saliency(model, x, np.array([0, 2]))
    w = model.params["affine0.W"]
    np.testing.assert_allclose(maps[0], np.abs(w[:, 0]).reshape(4, 4))
    np.testing.assert_allclose(maps[1], np.abs(w[:, 2]).reshape(4, 4))


def test_lenet5_input_gradient_is_the_same_on_both_routes():
    rng = np.random.default_rng(2)
    plain, tuned = LeNet5(input_grad=True, rng=rng), LeNet5(input_grad=True, tuned=True)
    for name, value in plain.params.items():
        tuned.params[name][:] = value
    x = rng.random((4, 1, 28, 28)).astype(np.float32)
    a = interpret.saliency(plain, x, np.array([0, 3, 5, 9]))
    b = interpret.saliency(tuned, x, np.array([0, 3, 5, 9]))
    assert a.dtype == np.float32 and rel_error(a, b) < 1e-5


@pytest.mark.parametrize("call, error, message", [
    (lambda: interpret.saliency(small_net(input_grad=False), images()), ValueError,
     "build the model with input_grad=True"),
    (lambda: interpret.score_gradient(object(), images(), [0, 0, 0]), TypeError,
     "expected a cnnlib Sequential"),
    (lambda: interpret.score_gradient(small_net(), images(), [0, 1]), ValueError,
     r"target: expected 3 integer class indices, shape \(3,\)"),
    (lambda: interpret.score_gradient(small_net(), images(), [0, 1, 4]), ValueError,
     r"target: class indices must be in \[0, 4\)"),
    (lambda: interpret.saliency(small_net(), images()[0]), ValueError,
     r"x: expected a 4-D array, got shape \(2, 8, 8\)"),
    (lambda: interpret.saliency(small_net(), np.zeros((1, 2, 8, 8), int)), TypeError,
     "x: expected float images"),
    (lambda: interpret.occlusion(small_net(), images(), [0, 1, 2], patch=0), ValueError,
     "patch: expected a positive integer, got 0"),
    (lambda: interpret.occlusion(small_net(), images(), [0, 1, 9]), ValueError,
     r"labels: class indices must be in \[0, 4\)"),
    (lambda: interpret.occlusion(small_net(), images(), [0, -1, 2]), ValueError,
     r"labels: class indices must be in \[0, 4\), got -1..2"),
    (lambda: interpret.occlusion(small_net(), images(), [0, 1.0, 2]), ValueError,
     "labels: expected 3 integer class indices"),
    (lambda: interpret.fgsm(small_net(), images(), np.array([0, 1, 2]), -0.1), ValueError,
     "epsilon: expected a finite number >= 0, got -0.1"),
    (lambda: interpret.fgsm(small_net(), images(), np.array([0.0, 1, 2]), 0.1), ValueError,
     "y: expected 3 integer class indices"),
    (lambda: interpret.fgsm_accuracy(small_net(), images(), np.array([0, 1, 2]), [0, np.nan]),
     ValueError, "epsilon"),
    (lambda: interpret.fgsm_accuracy(small_net(), images()[:0], np.array([], int), [0.1]),
     ValueError, r"x: expected at least one image, got shape \(0, 2, 8, 8\)"),
    (lambda: interpret.fgsm_accuracy(small_net(), images(), np.array([0, 1, 2]), []),
     ValueError, "epsilons: expected at least one epsilon, got none"),
    (lambda: interpret.saliency(small_net(), images()[:0]), ValueError,
     "x: expected at least one image"),
    (lambda: interpret.saliency(small_net(), np.where(images() > 0.5, np.nan, images())),
     ValueError, r"x: expected finite pixel values, got \d+ NaN and 0 infinite values"),
    (lambda: interpret.score_gradient(small_net(), np.full((1, 2, 8, 8), np.inf), [0]),
     ValueError, r"x: expected finite pixel values, got 0 NaN and 128 infinite values"),
    (lambda: interpret.occlusion(small_net(), images(), [0, 1, 2], fill=np.nan), ValueError,
     "fill: expected a finite number .the background value., got nan"),
    (lambda: interpret.occlusion(small_net(), images(), [0, 1, 2], fill="black"), ValueError,
     "fill: expected a finite number .the background value., got 'black'"),
    (lambda: interpret.shift_images(images(), 1.5, 0), TypeError, "dy: expected an integer"),
    (lambda: interpret.shift_images(np.zeros(3), 1, 0), ValueError, r"x: expected images"),
    (lambda: interpret.rotate_images(images(), np.inf), ValueError, "degrees: expected a finite"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_occlusion_of_a_one_pixel_model_is_a_square_around_that_pixel():
    # class 0's score reads only pixel (3, 5); covering that pixel with grey changes p(class 0)
    model = Sequential(Affine(64, 2, dtype=np.float64, rng=np.random.default_rng(0)))
    model.params["affine0.W"][:] = 0
    model.params["affine0.W"][3 * 8 + 5, 0] = 4.0
    x = np.zeros((1, 1, 8, 8))
    x[0, 0, 3, 5] = 1.0
    maps = interpret.occlusion(model, x, np.array([0]), patch=3, fill=0.5)
    assert maps.shape == (1, 8, 8)
    expected_drop = softmax(np.array([4.0, 0.0]))[0] - softmax(np.array([2.0, 0.0]))[0]
    square = np.zeros((8, 8), bool)
    square[2:5, 4:7] = True                     # the 3x3 patches centred within 1 pixel of (3, 5)
    np.testing.assert_allclose(maps[0][square], expected_drop)
    np.testing.assert_allclose(maps[0][~square], 0, atol=1e-15)
    # stride 2: centres at even pixels only, 4x4 map; a patch reaching past the edge is cut off
    strided = interpret.occlusion(model, x, np.array([0]), patch=3, stride=2)
    assert strided.shape == (1, 4, 4)
    np.testing.assert_allclose(strided[0], maps[0][::2, ::2])
    # batching over positions changes nothing
    np.testing.assert_allclose(interpret.occlusion(model, x, np.array([0]), patch=3, batch_size=7),
                               maps)


def test_occlusion_of_several_images_and_channels():
    model, x = small_net(), images()
    labels = np.array([0, 1, 2])
    maps = interpret.occlusion(model, x, labels, patch=4, stride=3)
    assert maps.shape == (3, 3, 3)
    one = interpret.occlusion(model, x[1:2], labels[1:2], patch=4, stride=3)
    np.testing.assert_allclose(maps[1:2], one)
    # by hand: the patch centred on (3, 6) covers rows 1..4 and columns 4..7 in both channels
    covered = x[2:3].copy()
    covered[..., 1:5, 4:8] = 0.5
    p, q = softmax(model.forward(x[2:3]))[0, 2], softmax(model.forward(covered))[0, 2]
    np.testing.assert_allclose(maps[2, 1, 2], p - q)
    assert maps.dtype == np.float64


def test_occlusion_keeps_float32():
    model, x = small_net(), images()
    maps = interpret.occlusion(model, x.astype(np.float32), np.array([0, 1, 2]), patch=4,
                               stride=3)
    assert maps.dtype == np.float32
    np.testing.assert_allclose(maps, interpret.occlusion(model, x, np.array([0, 1, 2]), patch=4,
                                                         stride=3), atol=1e-5)


def loss_of(model, x, y):
    return SoftmaxWithLoss().forward(model.forward(x), y)


def test_fgsm_steps_by_epsilon_along_the_sign_of_the_loss_gradient():
    model, x, y = small_net(), images(4), np.array([0, 1, 2, 3])
    adversarial = interpret.fgsm(model, x, y, 0.05)
    assert adversarial.shape == x.shape and adversarial.dtype == x.dtype
    numeric = numerical_gradient(lambda v: loss_of(model, v, y), x.copy())
    clear = np.abs(numeric) > 1e-6                   # where the sign is not lost in rounding
    expected = np.clip(x + 0.05 * np.sign(numeric), 0, 1)
    np.testing.assert_allclose(adversarial[clear], expected[clear])
    assert loss_of(model, adversarial, y) > loss_of(model, x, y)
    assert 0 <= adversarial.min() and adversarial.max() <= 1
    assert np.abs(adversarial - x).max() <= 0.05 + 1e-12


def test_fgsm_epsilon_zero_is_the_identity_and_large_epsilon_stays_in_range():
    model, y = small_net(), np.array([0, 1, 2])
    x = images().astype(np.float32)
    assert np.array_equal(interpret.fgsm(model, x, y, 0.0), x)
    big = interpret.fgsm(model, x, y, 5.0)
    assert big.dtype == np.float32 and set(np.unique(big)) <= {0.0, 1.0}
    before = x.copy()
    interpret.fgsm(model, x, y, 0.3)
    assert np.array_equal(x, before), "fgsm must not change its input"


def test_fgsm_accuracy_matches_fgsm_one_epsilon_at_a_time():
    model, x = small_net(), images(10, seed=3)
    y = model.forward(x).argmax(axis=1)
    y[:3] = (y[:3] + 1) % 4                              # three wrong to start with
    epsilons = [0.0, 0.02, 0.1, 0.5]
    accuracies = interpret.fgsm_accuracy(model, x, y, epsilons, batch_size=4)
    expected = [np.mean(model.forward(interpret.fgsm(model, x, y, e)).argmax(axis=1) == y)
                for e in epsilons]
    np.testing.assert_allclose(accuracies, expected)
    assert accuracies[0] == 0.7 and accuracies[-1] < accuracies[0]


def test_shift_images_moves_content_and_fills_the_rest():
    x = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 1, 5, 6) + 1
    down_right = interpret.shift_images(x, 2, 1)
    np.testing.assert_array_equal(down_right[..., 2:, 1:], x[..., :3, :5])
    assert not down_right[..., :2, :].any() and not down_right[..., :, :1].any()
    up_left = interpret.shift_images(x, -1, -3, fill=-1)
    np.testing.assert_array_equal(up_left[..., :4, :3], x[..., 1:, 3:])
    assert np.all(up_left[..., 4, :] == -1) and np.all(up_left[..., :, 3:] == -1)
    np.testing.assert_array_equal(interpret.shift_images(x, 0, 0), x)
    assert not interpret.shift_images(x, 5, 0).any() and not interpret.shift_images(x, 0, -6).any()
    assert interpret.shift_images(x, 1, 1).dtype == np.float32
    # shifting back and forth loses only the border
    back = interpret.shift_images(interpret.shift_images(x, 1, -2), -1, 2)
    np.testing.assert_array_equal(back[..., :4, 2:], x[..., :4, 2:])


def test_shifted_test_set_moves_each_image_its_own_way_by_each_shift():
    x = np.random.default_rng(3).random((40, 1, 8, 8)).astype(np.float32)
    y = np.arange(40) % 10
    before = x.copy()
    shifted = interpret.shifted_test_set(x, y, max_shift=3, seed=0)
    assert sorted(shifted) == [0, 1, 2, 3] and np.array_equal(x, before)
    np.testing.assert_array_equal(shifted[0][0], x)
    for s, (images, labels) in shifted.items():
        assert images.shape == x.shape and images.dtype == np.float32
        np.testing.assert_array_equal(labels, y)
        assert labels is not y
        for image, original in zip(images, x):
            moves = [interpret.shift_images(original, s * dy, s * dx)
                     for dy, dx in [(0, 1), (0, -1), (1, 0), (-1, 0)]]
            assert any(np.array_equal(image, m) for m in moves)
    # the seed decides the directions
    again = interpret.shifted_test_set(x, y, max_shift=3, seed=0)
    other = interpret.shifted_test_set(x, y, max_shift=3, seed=1)
    assert np.array_equal(again[2][0], shifted[2][0])
    assert not np.array_equal(other[2][0], shifted[2][0])
    with pytest.raises(ValueError, match="max_shift"):
        interpret.shifted_test_set(x, y, max_shift=-1)


def test_rotate_images_by_right_angles_is_rot90():
    x = np.random.default_rng(4).random((3, 2, 7, 7))
    assert np.array_equal(interpret.rotate_images(x, 0), x)
    np.testing.assert_allclose(interpret.rotate_images(x, 90), np.rot90(x, 1, axes=(-2, -1)))
    np.testing.assert_allclose(interpret.rotate_images(x, -90), np.rot90(x, -1, axes=(-2, -1)))
    np.testing.assert_allclose(interpret.rotate_images(x, 180), x[..., ::-1, ::-1])
    wide = np.random.default_rng(5).random((1, 6, 9))
    np.testing.assert_allclose(interpret.rotate_images(wide, 180), wide[..., ::-1, ::-1])


def test_rotate_images_by_small_angles_interpolates():
    x = np.zeros((1, 9, 9))
    x[0, 4, 4] = 1.0                                  # the centre does not move
    assert interpret.rotate_images(x, 17)[0, 4, 4] == pytest.approx(1.0)
    x = np.zeros((1, 9, 9))
    x[0, 4, 8] = 1.0                                  # a point 4 right of the centre
    turned = interpret.rotate_images(x, 45)           # moves up-right, between pixels
    assert turned[0, :4, 5:].sum() > 0.5 and turned[0, 4:, :].sum() == 0
    constant = np.ones((2, 9, 9), dtype=np.float32)
    inside = interpret.rotate_images(constant, 30)
    assert inside.dtype == np.float32
    assert inside[:, 4, 4].tolist() == [1.0, 1.0] and inside[0, 0, 0] == 0.0   # corners leave
    assert interpret.rotate_images(constant, 30, fill=1.0).min() == pytest.approx(1.0)


def test_targeted_attack_reaches_its_targets_within_the_ball():
    model, x = small_net(), images(4)
    target = (model.forward(x).argmax(axis=1) + 1) % 4
    moved = interpret.targeted_attack(model, x, target, 0.3, step=0.05, steps=10, batch_size=3)
    assert moved.shape == x.shape and moved.dtype == x.dtype
    assert np.abs(moved - x).max() <= 0.3 + 1e-12 and moved.min() >= 0 and moved.max() <= 1
    np.testing.assert_array_equal(model.forward(moved).argmax(axis=1), target)
    # one step of size epsilon is FGSM's step DOWN the target's loss
    one = interpret.targeted_attack(model, x, target, 0.1, step=0.1, steps=1)
    np.testing.assert_allclose(
        one, np.clip(x - 0.1 * interpret.loss_gradient_sign(model, x, target), 0, 1)
    )


@pytest.mark.parametrize("kwargs, message", [
    (dict(epsilon=-1, step=0.1), "epsilon: expected a finite number >= 0"),
    (dict(epsilon=0.1, step=0.0), "step: expected a finite number > 0, got 0.0"),
    (dict(epsilon=0.1, step=0.1, steps=-1), "steps: expected an integer >= 0, got -1"),
    (dict(epsilon=0.1, step=0.1, steps=2.5), "steps: expected an integer >= 0, got 2.5"),
])
def test_targeted_attack_names_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        interpret.targeted_attack(small_net(), images(), np.array([0, 1, 2]), **kwargs)
