"""Version of the squall-http distribution."""

__version__ = "0.1.0"
