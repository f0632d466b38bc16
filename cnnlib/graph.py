"""Nodes of a computational graph: multiplication and addition, each with its local backward rule.

Each node remembers what it needs from the forward pass, then turns the upstream gradient ``dout``
into gradients for its inputs. Works on Python scalars and on numpy arrays of the same shape.
"""


class MulLayer:
    """``out = x * y``; backward: ``dx = dout * y``, ``dy = dout * x``
    (each input gets the other one)."""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        """Return ``x * y`` and remember both inputs."""
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        """Return ``(dL/dx, dL/dy)`` given ``dout = dL/dout``."""
        if self.x is None:
            raise RuntimeError("MulLayer.backward called before forward")
        return dout * self.y, dout * self.x


class AddLayer:
    """``out = x + y``; backward passes ``dout`` unchanged to both inputs."""

    def forward(self, x, y):
        """Return ``x + y``."""
        return x + y

    def backward(self, dout):
        """Return ``(dL/dx, dL/dy) = (dout, dout)``."""
        return dout, dout
