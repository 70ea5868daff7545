"""Version of the squall-web distribution."""

__version__ = "0.1.0"
