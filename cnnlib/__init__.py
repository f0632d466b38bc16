"""cnnlib: the small numpy library behind the notebook series on convolutional networks."""

__version__ = "0.1.0"
