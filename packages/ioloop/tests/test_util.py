"""Tests for squall.util: Configurable and the small helpers."""

from __future__ import annotations

import errno
import gzip
import re
from datetime import timedelta
from typing import Any

import pytest
from squall.util import (
    ArgReplacer,
    Configurable,
    ConfigurationError,
    GzipDecompressor,
    ObjectDict,
    TimeoutError,
    errno_from_exception,
    import_object,
    raise_exc_info,
    re_unescape,
    timedelta_to_seconds,
)


class Base(Configurable):
    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        return Base

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        return DefaultImpl

    def initialize(self, pos: Any = None, a: int = 1, b: int = 2) -> None:
        self.pos = pos
        self.a = a
        self.b = b


class DefaultImpl(Base):
    pass


class OtherImpl(Base):
    def initialize(self, pos: Any = None, a: int = 1, b: int = 2, c: int = 3) -> None:
        super().initialize(pos, a=a, b=b)
        self.c = c


class Unrelated(Configurable):
    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        return Unrelated

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        return Unrelated


@pytest.fixture(autouse=True)
def restore_base() -> Any:
    saved = Base._save_configuration()
    yield
    Base._restore_configuration(saved)


def test_default_implementation_is_built_through_new() -> None:
    obj = Base()
    assert type(obj) is DefaultImpl
    assert (obj.a, obj.b) == (1, 2)
    assert Base.configured_class() is DefaultImpl


def test_configure_with_class_and_kwargs_merges_under_call_kwargs() -> None:
    Base.configure(OtherImpl, a=10, c=30)
    obj = Base("p", b=20)
    assert type(obj) is OtherImpl
    assert (obj.pos, obj.a, obj.b, obj.c) == ("p", 10, 20, 30)
    # The call's own keyword wins over the configured one.
    assert Base(a=99).a == 99


def test_configure_with_dotted_name() -> None:
    Base.configure(f"{__name__}.OtherImpl")
    # The test module is imported under a generated name in importlib mode,
    # so compare by class name.
    assert type(Base()).__name__ == "OtherImpl"


def test_configured_kwargs_apply_to_direct_construction_of_an_implementation() -> None:
    Base.configure(None, a=5)
    assert OtherImpl().a == 5
    assert type(OtherImpl()) is OtherImpl


def test_configure_none_restores_default() -> None:
    Base.configure(OtherImpl)
    Base.configure(None)
    assert type(Base()) is DefaultImpl


def test_configure_rejects_unrelated_class_with_clear_message() -> None:
    with pytest.raises(ConfigurationError, match="not a subclass of .*Base"):
        Base.configure(Unrelated)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not a subclass"):
        Base.configure(int)  # type: ignore[arg-type]


def test_configure_rejects_unknown_dotted_name() -> None:
    with pytest.raises(ConfigurationError, match="no_such_module_xyz"):
        Base.configure("no_such_module_xyz.Thing")
    with pytest.raises(ConfigurationError, match="Nope"):
        Base.configure("squall.util.Nope")


def test_configured_context_manager_restores() -> None:
    with Base.configured(OtherImpl, c=7):
        assert Base().c == 7
    assert type(Base()) is DefaultImpl


def test_configuration_is_per_base() -> None:
    Base.configure(OtherImpl)
    assert Unrelated.configured_class() is Unrelated


def test_object_dict() -> None:
    d = ObjectDict(a=1)
    assert d.a == 1
    d.b = 2
    assert d["b"] == 2
    del d.a
    assert "a" not in d
    with pytest.raises(AttributeError):
        _ = d.missing
    with pytest.raises(AttributeError):
        del d.missing


def test_import_object() -> None:
    import os.path

    assert import_object("os.path") is os.path
    assert import_object("os.path.join") is os.path.join
    assert import_object("os") is __import__("os")
    assert import_object("squall.util.ObjectDict") is ObjectDict
    with pytest.raises(ImportError, match="missing_thing"):
        import_object("os.path.missing_thing")
    with pytest.raises(ImportError):
        import_object("no_such_top_level_module_xyz")
    with pytest.raises(ImportError, match="not a dotted"):
        import_object(".relative")


def test_timeout_error_is_builtin_timeout_error() -> None:
    import builtins

    assert issubclass(TimeoutError, builtins.TimeoutError)
    assert issubclass(TimeoutError, OSError)


def test_errno_from_exception() -> None:
    assert errno_from_exception(OSError(errno.EPIPE, "x")) == errno.EPIPE
    assert errno_from_exception(Exception(errno.EAGAIN)) == errno.EAGAIN
    assert errno_from_exception(Exception("no errno")) is None


def test_raise_exc_info_keeps_traceback() -> None:
    try:
        raise KeyError("k")
    except KeyError as e:
        info = (type(e), e, e.__traceback__)
    with pytest.raises(KeyError) as caught:
        raise_exc_info(info)
    assert caught.value is info[1]
    with pytest.raises(TypeError):
        raise_exc_info((None, None, None))


def test_timedelta_to_seconds() -> None:
    assert timedelta_to_seconds(timedelta(minutes=1, milliseconds=500)) == 60.5


def test_re_unescape() -> None:
    for s in ["a.b", "x(y)*", "/path/with-dash", "100%"]:
        assert re_unescape(re.escape(s)) == s
    with pytest.raises(ValueError, match="cannot unescape"):
        re_unescape(r"\d")


def test_gzip_decompressor_caps_output() -> None:
    data = b"x" * 100_000
    compressed = gzip.compress(data)
    d = GzipDecompressor()
    first = d.decompress(compressed, 1000)
    assert len(first) == 1000
    rest = bytearray(first)
    while d.unconsumed_tail:
        rest += d.decompress(d.unconsumed_tail, 1000)
    rest += d.flush()
    assert bytes(rest) == data


def test_arg_replacer_positional_and_keyword() -> None:
    def fetch(url: str, callback: Any = None, other: int = 0) -> None:
        pass

    r = ArgReplacer(fetch, "callback")
    assert r.get_old_value(("u", "cb"), {}) == "cb"
    assert r.get_old_value(("u",), {"callback": "kw"}) == "kw"
    assert r.get_old_value(("u",), {}, default="d") == "d"
    old, args, kwargs = r.replace("new", ("u", "cb"), {})
    assert (old, args, kwargs) == ("cb", ("u", "new"), {})
    old, args, kwargs = r.replace("new", ("u",), {"other": 1})
    assert (old, args, kwargs) == (None, ("u",), {"other": 1, "callback": "new"})


def test_arg_replacer_unknown_argument() -> None:
    def f(a: int) -> None:
        pass

    with pytest.raises(ValueError, match="no argument named 'callback'"):
        ArgReplacer(f, "callback")


def test_tornado4_text_helpers() -> None:
    from squall.util import bytes_type, exec_in, u

    assert u("x") == "x"
    assert bytes_type is bytes
    namespace: dict[str, Any] = {}
    exec_in("y = 1 + 1", namespace)
    assert namespace["y"] == 2
