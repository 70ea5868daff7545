"""Exception handlers that follow asynchronous callbacks (Tornado 4/5 compatible).

Classic Tornado code wrapped a request in an ``ExceptionStackContext`` so that
an exception raised later, in a callback scheduled from inside that request,
reached the request's error handler instead of vanishing into the loop's log.
Tornado 6 removed the module; Squall keeps its API and builds it on
:mod:`contextvars`, which asyncio already carries into every callback it
schedules.  So::

    def handle(typ, value, tb):
        send_500()
        return True  # handled

    with ExceptionStackContext(handle):
        IOLoop.current().add_callback(step_that_may_fail)

routes an exception raised by ``step_that_may_fail`` to ``handle``.  Squall's
own callback runners (:meth:`squall.ioloop.IOLoop.add_callback`,
``add_timeout``, ``add_future``, :func:`squall.gen.engine`, the ``callback=``
arguments) consult the handlers through :func:`handle_exception`.

Handlers are tried innermost first; one that returns a true value stops the
search (the exception is handled), otherwise the next one is tried, and an
exception nobody handles is logged by the loop as usual.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextvars
import functools
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any, TypeVar

__all__ = [
    "ExceptionStackContext",
    "NullContext",
    "StackContext",
    "StackContextInconsistentError",
    "handle_exception",
    "has_handlers",
    "run_with_stack_context",
    "wrap",
]

_T = TypeVar("_T")

ExceptionHandler = Callable[
    [type[BaseException] | None, BaseException | None, TracebackType | None], Any
]

# Each entry is ("exception", handler) or ("context", factory).
_Entry = tuple[str, Any]
_stack: contextvars.ContextVar[tuple[_Entry, ...]] = contextvars.ContextVar(
    "squall_stack_context", default=()
)


class StackContextInconsistentError(Exception):
    """Your code left stack contexts in the wrong order.

    Raised when a ``with`` block of a stack context exits while an inner one
    entered after it is still active.

    .. versionadded:: 0.1.0
    """


class _StackEntry:
    _kind = ""

    def __init__(self, payload: Any) -> None:
        self._payload = payload
        self._token: contextvars.Token[tuple[_Entry, ...]] | None = None
        self._pushed: tuple[_Entry, ...] = ()

    def _push(self) -> None:
        self._pushed = (*_stack.get(), (self._kind, self._payload))
        self._token = _stack.set(self._pushed)

    def _pop(self) -> None:
        if _stack.get() is not self._pushed:
            raise StackContextInconsistentError(
                f"{type(self).__name__} exited while an inner stack context was still active"
            )
        if self._token is not None:
            _stack.reset(self._token)
            self._token = None


class ExceptionStackContext(_StackEntry):
    """Route exceptions from this block, and callbacks it schedules, to ``handler``.

    :param exception_handler: called as ``handler(typ, value, traceback)``;
        return a true value when the exception is handled.

    .. versionadded:: 0.1.0
    """

    _kind = "exception"

    def __init__(self, exception_handler: ExceptionHandler) -> None:
        super().__init__(exception_handler)

    def __enter__(self) -> None:
        self._push()

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._pop()
        if typ is None:
            return False
        return bool(self._payload(typ, value, tb))


class StackContext(_StackEntry):
    """Re-enter a context manager around every callback scheduled from this block.

    :param context_factory: called with no arguments each time to make a
        fresh context manager; it is entered now and around each later
        callback run through :func:`wrap` or the IOLoop.

    .. versionadded:: 0.1.0
    """

    _kind = "context"

    def __init__(self, context_factory: Callable[[], AbstractContextManager[Any]]) -> None:
        super().__init__(context_factory)
        self._exit_stack: ExitStack | None = None

    def __enter__(self) -> None:
        self._exit_stack = ExitStack()
        self._exit_stack.enter_context(self._payload())
        self._push()

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._pop()
        stack, self._exit_stack = self._exit_stack, None
        if stack is None:
            return False
        return bool(stack.__exit__(typ, value, tb))


class NullContext:
    """Run a block with no stack context at all.

    Callbacks scheduled inside it do not inherit the surrounding handlers:
    use it for work that outlives the request that started it.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._token: contextvars.Token[tuple[_Entry, ...]] | None = None

    def __enter__(self) -> None:
        self._token = _stack.set(())

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _stack.reset(self._token)
            self._token = None


def has_handlers() -> bool:
    """Return whether any stack context is active in the current context.

    .. versionadded:: 0.1.0
    """
    return bool(_stack.get())


def handle_exception(
    typ: type[BaseException] | None,
    value: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    """Offer an exception to the active handlers, innermost first.

    Returns True if one of them handled it.  A handler that itself raises has
    its new exception offered to the handlers outside it.

    .. versionadded:: 0.1.0
    """
    entries = _stack.get()
    for kind, payload in reversed(entries):
        if kind != "exception":
            continue
        try:
            if payload(typ, value, tb):
                return True
        except Exception:
            typ, value, tb = sys.exc_info()
    return False


def _run_entries(
    entries: tuple[_Entry, ...], fn: Callable[..., _T], *args: Any, **kwargs: Any
) -> _T:
    factories = [payload for kind, payload in entries if kind == "context"]
    token = _stack.set(entries)
    try:
        if not factories:
            return fn(*args, **kwargs)
        with ExitStack() as stack:
            for factory in factories:
                stack.enter_context(factory())
            return fn(*args, **kwargs)
    finally:
        _stack.reset(token)


def wrap(fn: Callable[..., _T]) -> Callable[..., _T | None]:
    """Capture the active stack contexts for a later call of ``fn``.

    The returned function runs ``fn`` with the captured contexts active
    (re-entering :class:`StackContext` managers) and offers an exception it
    raises to the captured handlers; a handled exception makes the call
    return ``None``, an unhandled one propagates.  Wrapping an already
    wrapped function returns it unchanged.

    .. versionadded:: 0.1.0
    """
    if fn is None or getattr(fn, "_squall_wrapped", False):
        return fn
    entries = _stack.get()

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> _T | None:
        try:
            return _run_entries(entries, fn, *args, **kwargs)
        except Exception:
            token = _stack.set(entries)
            try:
                if handle_exception(*sys.exc_info()):
                    return None
            finally:
                _stack.reset(token)
            raise

    wrapped._squall_wrapped = True  # type: ignore[attr-defined]
    return wrapped


def run_with_stack_context(context: AbstractContextManager[Any], func: Callable[[], _T]) -> _T:
    """Run ``func()`` inside ``context`` and return its result.

    Equivalent to ``with context: return func()``; kept for Tornado 4/5 code.

    .. versionadded:: 0.1.0
    """
    with context:
        return func()
