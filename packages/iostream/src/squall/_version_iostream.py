"""Version of the squall-iostream distribution."""

__version__ = "0.1.0"
