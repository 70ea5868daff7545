"""main(): run a test module with unittest, the way Tornado's test runner did."""

from __future__ import annotations

import logging
import sys
import unittest
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, *, exit: bool = True, **kwargs: Any) -> bool:
    """Run tests with :mod:`unittest` and log ``PASS`` or ``FAIL`` at the end.

    Meant for the end of a test module::

        if __name__ == "__main__":
            squall.testing.main()

    Compared with :func:`unittest.main`: log records go to stderr (so that
    unexpected log output is seen; :class:`~squall.testing.ExpectLog`
    hides the expected ones), and when no test names are given on the
    command line and ``__main__`` defines a function ``all()`` returning a
    suite, that suite is run.  The poller is chosen as for every IOLoop, by
    the ``SQUALL_POLLER`` environment variable.

    :param argv: the command line (default ``sys.argv``), as for
        :func:`unittest.main`.
    :param exit: exit the process with status 0 or 1 when done.
    :param kwargs: passed on to :func:`unittest.main` (``verbosity``,
        ``failfast``, ``module``, ``defaultTest``, ...).
    :returns: whether all tests passed (when ``exit`` is false).

    .. versionadded:: 0.1.0
    """
    args = list(sys.argv if argv is None else argv)
    module = kwargs.setdefault("module", "__main__")
    if "defaultTest" not in kwargs and len([a for a in args[1:] if not a.startswith("-")]) == 0:
        target = sys.modules.get(module) if isinstance(module, str) else module
        if callable(getattr(target, "all", None)):
            kwargs["defaultTest"] = "all"
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    program = unittest.main(argv=args, exit=False, **kwargs)
    passed = program.result.wasSuccessful()
    log = logging.getLogger("squall.general")
    if passed:
        log.info("PASS")
    else:
        log.error("FAIL")
    if exit:
        sys.exit(0 if passed else 1)
    return passed
