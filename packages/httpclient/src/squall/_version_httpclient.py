"""Version of the squall-httpclient distribution."""

__version__ = "0.1.0"
