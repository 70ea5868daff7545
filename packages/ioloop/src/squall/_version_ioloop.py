"""Version of the squall-ioloop distribution."""

__version__ = "0.1.0"
