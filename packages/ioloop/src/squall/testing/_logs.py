"""ExpectLog: assert that a log message happens, and keep it out of the output."""

from __future__ import annotations

import logging
import re
from types import TracebackType
from typing import Self

__all__ = ["ExpectLog"]


class ExpectLog(logging.Filter):
    """Context manager swallowing the expected log records of a block.

    Records logged on ``logger`` whose message matches ``regex`` (from its
    start, like :func:`re.match`) are dropped rather than printed; all other
    records pass.  If ``required`` and no record matched by the end of a
    block that raised nothing, the block fails::

        with ExpectLog("squall.application", "Exception in callback"):
            io_loop.add_callback(failing_callback)
            ...

    A swallowed exception report also does not fail an
    :class:`~squall.testing.AsyncTestCase` or an ``io_loop`` fixture test.

    The filter is attached to ``logger`` itself, so it sees the records
    logged on that logger, not those propagated from its children: name the
    logger the message is logged on.

    :param logger: a :class:`logging.Logger` or a logger name.
    :param regex: the regular expression the message must match.
    :param required: fail if no record matched.
    :param level: if given (e.g. ``logging.WARNING``), only records of
        exactly that level match, and the logger's level is lowered to it
        inside the block if needed so that the record is created at all.
    :raises TypeError: for a ``logger`` that is neither a name nor a Logger,
        or a ``level`` that is not an int.
    :raises re.error: for an invalid ``regex``.
    :raises AssertionError: on leaving the block, if ``required`` and no
        record matched.

    Attributes after use: ``matched`` (whether any record matched) and
    ``records`` (the swallowed records, in order).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        logger: logging.Logger | str,
        regex: str,
        required: bool = True,
        level: int | None = None,
    ) -> None:
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        elif not isinstance(logger, logging.Logger):
            raise TypeError(f"logger must be a logging.Logger or a logger name, not {logger!r}")
        if level is not None and (isinstance(level, bool) or not isinstance(level, int)):
            raise TypeError(f"level must be a logging level such as logging.WARNING, not {level!r}")
        super().__init__()
        self.logger = logger
        self.regex = re.compile(regex)
        self.required = required
        self.level = level
        self.matched = False
        self.records: list[logging.LogRecord] = []
        self._saved_level: int | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False (drop it) for a matching record, True otherwise.

        .. versionadded:: 0.1.0
        """
        if self.level is not None and record.levelno != self.level:
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: let the handlers report it
            return True
        if self.regex.match(message) is None:
            return True
        self.matched = True
        self.records.append(record)
        return False

    def __enter__(self) -> Self:
        if self.level is not None and self.logger.getEffectiveLevel() > self.level:
            self._saved_level = self.logger.level
            self.logger.setLevel(self.level)
        self.logger.addFilter(self)
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.logger.removeFilter(self)
        if self._saved_level is not None:
            self.logger.setLevel(self._saved_level)
            self._saved_level = None
        if typ is None and self.required and not self.matched:
            raise AssertionError(
                f"did not get the expected log message: nothing matching "
                f"{self.regex.pattern!r} was logged on {self.logger.name!r}"
            )
