"""Python builtins as the model interpreter sees them: pure ones run on concrete values,
`getattr`/`hasattr`/`isinstance` understand configs, instances and SGLang classes."""

from __future__ import annotations

import math
from typing import Any

from tools.model_parser.frames import Builtin, Frame, Partial, plain, plain_container, sequence_of
from tools.model_parser.runtime import ProfileObject
from tools.model_parser.values import (
    Choice,
    ClassValue,
    ConfigObject,
    External,
    Instance,
    LayerList,
    Leaf,
    Sym,
    Unknown,
    expr_of,
    truth,
    unwrap,
)


class BuiltinsMixin:
    """The builtin table; mixed into ModelInterpreter."""

    def _make_builtins(self) -> dict[str, Any]:
        b: dict[str, Any] = {}

        def pure(fn, pytype=None, name=None):
            def wrapper(frame, node, *args, **kwargs):
                if any(isinstance(a, (Unknown, Choice)) for a in args):
                    # Keep what was unknown: a pending note names the expression that failed.
                    inner = ", ".join(a.reason if isinstance(a, Unknown) else "a runtime choice" if isinstance(a, Choice) else repr(plain(a)) for a in args)
                    return Unknown(f"{name or fn.__name__}({inner})")
                raw = [plain(a) for a in args]
                try:
                    result = fn(*raw, **{k: plain(v) for k, v in kwargs.items()})
                except Exception as exc:
                    return Unknown(f"{type(exc).__name__} in {name or fn.__name__}")
                syms = [a for a in args if isinstance(a, Sym)]
                if syms and isinstance(result, (int, float, bool)) and not isinstance(result, bool):
                    inner = ", ".join(expr_of(a) or repr(plain(a)) for a in args)
                    return Sym(result, f"{name or fn.__name__}({inner})")
                return result

            return Builtin(name or fn.__name__, wrapper, pytype)

        for fn, pytype in (
            (int, int),
            (float, float),
            (str, str),
            (bool, bool),
            (list, list),
            (tuple, tuple),
            (dict, dict),
            (set, set),
            (frozenset, frozenset),
        ):
            b[fn.__name__] = pure(fn, pytype)
        b["any"] = Builtin("any", lambda frame, node, items: _any_or_all(items, want=True))
        b["all"] = Builtin("all", lambda frame, node, items: _any_or_all(items, want=False))
        b["dict"] = Builtin("dict", lambda frame, node, *a, **k: dict(*[plain_container(x) for x in a], **k), dict)
        b["list"] = Builtin("list", lambda frame, node, *a: sequence_of(list, a), list)
        b["tuple"] = Builtin("tuple", lambda frame, node, *a: sequence_of(tuple, a), tuple)
        for fn in (
            len,
            abs,
            round,
            min,
            max,
            sum,
            sorted,
            reversed,
            divmod,
            pow,
            range,
            enumerate,
            zip,
            repr,
            hash,
        ):
            b[fn.__name__] = pure(fn)
        for name in ("ceil", "floor", "sqrt", "log2", "log", "gcd", "prod", "isqrt"):
            b[f"math.{name}"] = pure(getattr(math, name), name=name)
        b["print"] = Builtin("print", lambda *a, **k: None)
        b["getattr"] = Builtin("getattr", self._builtin_getattr)
        b["hasattr"] = Builtin("hasattr", self._builtin_hasattr)
        b["setattr"] = Builtin("setattr", self._builtin_setattr)
        b["isinstance"] = Builtin("isinstance", self._builtin_isinstance)
        b["callable"] = Builtin("callable", lambda frame, node, x: not isinstance(x, (int, float, str, type(None))))
        b["type"] = Builtin(
            "type", lambda frame, node, x, *rest: x.cls if isinstance(x, Instance) else Unknown("type()")
        )
        b["functools.partial"] = Builtin("partial", lambda frame, node, fn, *a, **k: Partial(fn, list(a), dict(k)))
        b["partial"] = b["functools.partial"]
        b["functools.lru_cache"] = Builtin(
            "lru_cache", lambda frame, node, *a, **k: a[0] if a else Unknown("lru_cache")
        )
        for name in ("typing.Optional", "typing.Union", "typing.List", "typing.Dict", "typing.Tuple", "typing.Any"):
            b[name] = External(name)
        b["object"] = External("builtins.object")
        for exc in (
            "ValueError",
            "NotImplementedError",
            "RuntimeError",
            "AssertionError",
            "TypeError",
            "KeyError",
            "Exception",
        ):
            b[exc] = External(f"builtins.{exc}")
        return b

    def _builtin_getattr(self, frame: Frame, node, obj, name, *default):
        raw = unwrap(name)
        if not isinstance(raw, str):
            return Unknown("getattr with unknown name")
        if isinstance(obj, ConfigObject) and not obj.has(raw):
            value = self._config_fallback(obj, raw, frame)
            return default[0] if default and isinstance(value, Unknown) else value
        if isinstance(obj, Instance) and raw not in obj.attrs and default:
            owner, member = self.lookup_class_attr(obj.cls, raw)
            if member is None:
                return default[0]
        if isinstance(obj, ProfileObject) and raw not in obj.attrs and default:
            return default[0]
        value = self.get_attr(obj, raw, frame)
        if isinstance(value, Unknown) and default and not isinstance(obj, (Unknown, Choice)):
            if isinstance(obj, (dict, list, str, int, float)) or obj is None:
                return default[0]
        return value

    def _builtin_hasattr(self, frame: Frame, node, obj, name):
        raw = unwrap(name)
        if isinstance(obj, ConfigObject):
            return obj.has(raw)
        if isinstance(obj, Instance):
            if raw in obj.attrs:
                return True
            owner, member = self.lookup_class_attr(obj.cls, raw)
            return member is not None or Unknown(f"hasattr {raw}")
        if isinstance(obj, ProfileObject):
            return raw in obj.attrs or Unknown(f"hasattr {obj.name}.{raw}")
        if obj is None or isinstance(obj, (int, float, str)):
            return hasattr(unwrap(obj), raw)
        return Unknown(f"hasattr {raw}")

    def _builtin_setattr(self, frame: Frame, node, obj, name, value):
        if isinstance(obj, (Instance, Leaf)) and isinstance(unwrap(name), str):
            obj.attrs[unwrap(name)] = value
        return None

    def _builtin_isinstance(self, frame: Frame, node, obj, classes):
        options = unwrap(classes)
        options = list(options) if isinstance(options, (tuple, list)) else [options]
        results = [self._isinstance_one(obj, c) for c in options]
        if any(r is True for r in results):
            return True
        if all(r is False for r in results):
            return False
        return Unknown("isinstance")

    def _isinstance_one(self, obj: Any, cls: Any) -> bool | None:
        if isinstance(obj, (Unknown, Choice)):
            return None
        raw = unwrap(obj)
        if isinstance(cls, Builtin) and cls.pytype is not None:
            if isinstance(obj, ConfigObject):
                return False
            if cls.pytype is int and isinstance(raw, bool):
                return False
            return isinstance(raw, cls.pytype)
        if isinstance(cls, ClassValue):
            if isinstance(obj, Instance):
                return cls in self.mro(obj.cls) or any(c.name == cls.name for c in self.mro(obj.cls))
            if isinstance(obj, Leaf):
                return obj.class_name == cls.name
            return False
        if isinstance(cls, External):
            short = cls.qualname.rsplit(".", 1)[-1]
            if isinstance(obj, ConfigObject):
                return short.endswith("Config") or None
            if isinstance(obj, (Instance, Leaf, LayerList)):
                return True if short in ("Module",) else None
            if isinstance(raw, (int, float, str, list, dict, tuple)) or raw is None:
                return False
        return None


def _any_or_all(items: Any, *, want: bool) -> Any:
    """`any` (want=True) or `all` (want=False) over interpreter values: one decisive known
    item decides; an unknown item otherwise leaves the answer unknown (an Unknown object is
    truthy in Python, which must not count as True)."""
    if isinstance(items, (Unknown, Choice)):
        return Unknown("any/all over an unknown iterable")
    undecided = False
    for item in unwrap(items) if not isinstance(unwrap(items), (str, bytes)) else items:
        known = truth(item)
        if known is None:
            undecided = True
        elif known is want:
            return want
    return Unknown("any/all over unknown items") if undecided else (not want)
