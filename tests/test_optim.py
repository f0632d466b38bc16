import numpy as np
import pytest

from cnnlib.optim import OPTIMIZERS, SGD, AdaGrad, Adam, Momentum, RMSprop, cosine_schedule


def _one_step(optimizer, steps=1):
    p = np.array([1.0, -2.0])
    g = np.array([0.5, -1.0])
    for _ in range(steps):
        optimizer.update({"p": p}, {"p": g})
    return p


def test_hand_computed_steps():
    np.testing.assert_allclose(_one_step(SGD(lr=0.1)), [0.95, -1.9])
    # momentum: v1 = -0.1 g, v2 = 0.9 v1 - 0.1 g = -0.19 g
    np.testing.assert_allclose(_one_step(Momentum(lr=0.1, momentum=0.9), 2),
                               [1 - 0.29 * 0.5, -2 + 0.29])
    # eps=1e-300 vanishes next to sqrt(h) (eps must be positive)
    # adagrad: h = g^2, step = lr * g / |g| = lr * sign(g)
    np.testing.assert_allclose(_one_step(AdaGrad(lr=0.1, eps=1e-300)), [0.9, -1.9])
    # rmsprop: h = 0.1 g^2, step = lr * g / (sqrt(0.1) |g|)
    np.testing.assert_allclose(_one_step(RMSprop(lr=0.1, rho=0.9, eps=1e-300)),
                               [1 - 0.1 / np.sqrt(0.1), -2 + 0.1 / np.sqrt(0.1)])
    # adam, first step: m_hat = g, v_hat = g^2, so the step is lr * sign(g)
    np.testing.assert_allclose(_one_step(Adam(lr=0.01, eps=1e-300)), [0.99, -1.99])


def test_adam_second_step_by_hand():
    b1, b2, lr = 0.9, 0.999, 0.01
    g1, g2 = 0.5, 0.25
    m = (1 - b1) * g1
    v = (1 - b2) * g1**2
    p = 1.0 - lr * (m / (1 - b1)) / np.sqrt(v / (1 - b2))
    m = b1 * m + (1 - b1) * g2
    v = b2 * v + (1 - b2) * g2**2
    p = p - lr * (m / (1 - b1**2)) / np.sqrt(v / (1 - b2**2))
    opt, param = Adam(lr=lr, eps=1e-300), np.array([1.0])
    for g in (g1, g2):
        opt.update({"p": param}, {"p": np.array([g])})
    assert param[0] == pytest.approx(p, rel=1e-12)


@pytest.mark.parametrize("name, lr",
                         [("sgd", 0.1), ("momentum", 0.05), ("adagrad", 0.5), ("rmsprop", 0.001),
                                      ("adam", 0.1)])
def test_converges_on_convex_quadratic(name, lr):
    # f(p) = 0.5 * p^T A p - c^T p with A positive definite; minimum at A^{-1} c
    a = np.array([[3.0, 0.5], [0.5, 1.0]])
    c = np.array([1.0, -2.0])
    target = np.linalg.solve(a, c)
    p = np.zeros(2)
    optimizer = OPTIMIZERS[name](lr=lr)
    for _ in range(5000):
        optimizer.update({"p": p}, {"p": a @ p - c})
    np.testing.assert_allclose(p, target, atol=1e-3)


def test_float32_state_and_in_place():
    p = np.ones(3, np.float32)
    ref = p
    opt = Adam()
    opt.update({"w": p}, {"w": np.full(3, 0.1, np.float32)})
    assert p is ref and p.dtype == np.float32 and opt.state["m"]["w"].dtype == np.float32


def test_state_dict_round_trip():
    a, b = Adam(lr=0.01), Adam(lr=0.01)
    pa = np.array([1.0, 2.0])
    for _ in range(3):
        a.update({"p": pa}, {"p": pa * 0.3})
    b.load_state_dict(a.state_dict())
    pb = pa.copy()
    a.update({"p": pa}, {"p": pa * 0.3})
    b.update({"p": pb}, {"p": pb * 0.3})
    np.testing.assert_array_equal(pa, pb)


def test_bad_learning_rate():
    with pytest.raises(ValueError, match=r"lr: expected a value in \(0, inf\), got -1"):
        SGD(lr=-1)


@pytest.mark.parametrize("make, message", [
    (lambda: Adam(beta1=1), r"beta1: expected a value in \[0, 1\), got 1"),
    (lambda: Adam(beta2=1.5), r"beta2: expected a value in \[0, 1\), got 1.5"),
    (lambda: Adam(beta1=-0.1), r"beta1: expected a value in \[0, 1\), got -0.1"),
    (lambda: Adam(eps=-1), r"eps: expected a value in \(0, inf\), got -1"),
    (lambda: Adam(eps=0), r"eps: expected a value in \(0, inf\), got 0"),
    (lambda: Momentum(momentum=5), r"momentum: expected a value in \[0, 1\), got 5"),
    (lambda: Momentum(momentum=1), r"momentum: expected a value in \[0, 1\), got 1"),
    (lambda: RMSprop(rho=1), r"rho: expected a value in \[0, 1\), got 1"),
    (lambda: RMSprop(eps=float("nan")), r"eps: expected a value in \(0, inf\), got nan"),
    (lambda: AdaGrad(eps=0.0), r"eps: expected a value in \(0, inf\), got 0.0"),
    (lambda: SGD(lr=float("inf")), r"lr: expected a value in \(0, inf\), got inf"),
    (lambda: SGD(lr=0), r"lr: expected a value in \(0, inf\), got 0"),
])
def test_hyperparameters_out_of_range_are_refused_naming_them(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, name", [
    (lambda: Adam(beta1="0.9"), "beta1"), (lambda: SGD(lr=None), "lr"),
    (lambda: Momentum(momentum=True), "momentum"),
    (lambda: Adam(weight_decay=[0.1]), "weight_decay"),
])
def test_hyperparameters_that_are_not_numbers_are_refused_naming_them(make, name):
    with pytest.raises(TypeError, match=f"{name}: expected a real number, got "):
        make()


def test_cosine_schedule_checks_its_arguments():
    with pytest.raises(ValueError, match=r"min_lr: expected a value in \[0, 0.001\], got 0.01"):
        cosine_schedule(1e-3, 5, min_lr=1e-2)
    with pytest.raises(ValueError, match=r"lr: expected a value in \(0, inf\), got -1"):
        cosine_schedule(-1, 5)
    with pytest.raises(ValueError, match="epochs: expected a positive integer, got 2.5"):
        cosine_schedule(1e-3, 2.5)


def test_boundary_values_that_make_sense_are_accepted():
    assert Adam(beta1=0.0, beta2=0.0).beta1 == 0.0
    assert Momentum(momentum=0).momentum == 0
    assert SGD(lr=np.float32(0.1), weight_decay=0).lr == np.float32(0.1)


def test_cosine_schedule():
    schedule = cosine_schedule(0.1, 4, min_lr=0.01)
    assert [round(schedule(e), 6) for e in range(4)] == [
        0.1, round(0.01 + 0.09 * (1 + np.cos(np.pi / 4)) / 2, 6),
        0.055, round(0.01 + 0.09 * (1 + np.cos(3 * np.pi / 4)) / 2, 6)]
    with pytest.raises(ValueError, match="epochs: expected a positive integer"):
        cosine_schedule(0.1, 0)


# --- weight decay
# -----------------------------------------------------------------------------------

def test_weight_decay_adds_lambda_w_to_the_gradient_of_weights_only():
    params = {"fc1.W": np.array([1.0, -2.0]), "fc1.b": np.array([1.0, -2.0]),
              "bn1.gamma": np.array([1.0, 2.0]),
              "bn1.beta": np.array([1.0, -2.0]), "W": np.array([4.0])}
    grads = {name: np.full_like(p, 0.5) for name, p in params.items()}
    SGD(lr=0.1, weight_decay=0.2).update(params, grads)
    np.testing.assert_allclose(params["fc1.W"], [1 - 0.1 * (0.5 + 0.2), -2 - 0.1 * (0.5 - 0.4)])
    np.testing.assert_allclose(params["W"], [4 - 0.1 * (0.5 + 0.8)])
    # exempt: biases, gamma and beta take the plain step -lr * 0.5
    np.testing.assert_allclose(params["fc1.b"], [0.95, -2.05])
    np.testing.assert_allclose(params["bn1.gamma"], [0.95, 1.95])
    np.testing.assert_allclose(params["bn1.beta"], [0.95, -2.05])
    assert [name for name in params if SGD.decays(name)] == ["fc1.W", "W"]
    assert grads["fc1.W"].tolist() == [0.5, 0.5], "the gradients given are not changed"


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_with_weight_decay_steps_as_on_the_decayed_gradient(name):
    cls = OPTIMIZERS[name]
    w = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    g = np.array([0.3, 0.1, -0.2], dtype=np.float32)
    decayed, plain = {"W": w.copy()}, {"W": w.copy()}
    with_decay, without = cls(lr=0.05, weight_decay=0.1), cls(lr=0.05)
    for _ in range(3):
        with_decay.update(decayed, {"W": g})
        without.update(plain, {"W": g + 0.1 * plain["W"]})
    assert decayed["W"].dtype == np.float32
    np.testing.assert_allclose(decayed["W"], plain["W"], rtol=1e-6)
    assert "weight_decay=0.1" in repr(with_decay)


def test_weight_decay_shrinks_weights_without_a_gradient_and_rejects_negatives():
    w = {"W": np.array([2.0])}
    opt = SGD(lr=0.5, weight_decay=0.1)
    for _ in range(10):
        opt.update(w, {"W": np.zeros(1)})
    np.testing.assert_allclose(w["W"], 2.0 * 0.95 ** 10)
    with pytest.raises(ValueError, match=r"weight_decay: expected a value in \[0, inf\), got -0.1"):
        Adam(weight_decay=-0.1)
