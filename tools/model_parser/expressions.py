"""Expressions of the model interpreter: names, attributes, calls, operators, literals,
comprehensions. Values carry their config expression (see `values.Sym`)."""

from __future__ import annotations

from typing import Any, Callable

import libcst as cst

from tools.model_parser.frames import (
    BIN_OPS,
    CMP_OPS,
    MAX_LOOP,
    Builtin,
    BudgetExceeded,
    Dead,
    Frame,
    ModuleRef,
    code_of,
)
from tools.model_parser.runtime import ProfileObject, predicate_default
from tools.model_parser.values import (
    Choice,
    ClassValue,
    ConfigObject,
    EnumMember,
    External,
    Instance,
    LambdaValue,
    LayerList,
    Leaf,
    Sym,
    Unknown,
    apply_binary,
    apply_compare,
    expr_of,
    make_choice,
    truth,
    unwrap,
)


class ExpressionsMixin:
    """Evaluates expressions; mixed into ModelInterpreter."""

    def _safe_eval(self, node: cst.BaseExpression, frame: Frame) -> Any:
        try:
            return self.eval(node, frame)
        except (Dead, BudgetExceeded):
            raise
        except RecursionError:
            return Unknown("recursion")
        except Exception as exc:  # an unsupported construct must not abort the whole model
            self._diagnose(
                f"could not evaluate `{code_of(node)[:80]}`: {type(exc).__name__}: {exc}", frame.module.location(node)
            )
            return Unknown(f"unsupported: {code_of(node)[:60]}")

    def eval(self, node: cst.BaseExpression, frame: Frame) -> Any:
        method = getattr(self, "_eval_" + type(node).__name__, None)
        if method is None:
            return Unknown(f"{type(node).__name__} expression")
        return method(node, frame)

    def _eval_Name(self, node: cst.Name, frame: Frame) -> Any:
        name = node.value
        if name in frame.locals:
            return frame.locals[name]
        if frame.closure and name in frame.closure:
            return frame.closure[name]
        if name == "None":
            return None
        if name == "True":
            return True
        if name == "False":
            return False
        return self.global_lookup(frame.module, name)

    def _eval_Integer(self, node: cst.Integer, frame: Frame) -> Any:
        return node.evaluated_value

    def _eval_Float(self, node: cst.Float, frame: Frame) -> Any:
        return node.evaluated_value

    def _eval_Imaginary(self, node, frame):
        return node.evaluated_value

    def _eval_SimpleString(self, node: cst.SimpleString, frame: Frame) -> Any:
        return node.evaluated_value

    def _eval_ConcatenatedString(self, node: cst.ConcatenatedString, frame: Frame) -> Any:
        left, right = self.eval(node.left, frame), self.eval(node.right, frame)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        return Unknown("string")

    def _eval_FormattedString(self, node: cst.FormattedString, frame: Frame) -> Any:
        parts = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value)
            else:
                value = unwrap(self._safe_eval(part.expression, frame))
                if isinstance(value, Unknown):
                    return Unknown("f-string")
                parts.append(str(value))
        return "".join(parts)

    def _eval_Ellipsis(self, node, frame):
        return Ellipsis

    def _eval_Attribute(self, node: cst.Attribute, frame: Frame) -> Any:
        return self.get_attr(self.eval(node.value, frame), node.attr.value, frame)

    def get_attr(self, obj: Any, name: str, frame: Frame) -> Any:
        if isinstance(obj, _SuperProxy):
            return self._super_attr(obj, name)
        if isinstance(obj, Choice):
            return make_choice([self.get_attr(o, name, frame) for o in obj.options])
        if isinstance(obj, Unknown):
            return Unknown(f"{obj.reason}.{name}")
        if isinstance(obj, EnumMember):
            if name == "value":
                return obj.value
            if name == "name":
                return obj.name
            return Unknown(f"{obj!r}.{name}")
        if isinstance(obj, ConfigObject):
            if obj.has(name):
                return obj.get(name)
            if name == "get_text_config":
                sub = obj.get("text_config") if obj.has("text_config") else obj
                return Builtin("get_text_config", lambda *_a, **_k: sub)
            if name in ("to_dict",):
                return Builtin("to_dict", lambda *_a, **_k: dict(obj.data))
            return self._config_fallback(obj, name, frame)
        if isinstance(obj, Instance):
            if name in obj.attrs:
                return obj.attrs[name]
            owner, member = self.lookup_class_attr(obj.cls, name)
            if member is not None and owner is not None:
                return self._member_value(owner, member, obj, name)
            return Unknown(f"{obj.cls.name}.{name}")
        if isinstance(obj, ClassValue):
            owner, member = self.lookup_class_attr(obj, name)
            if member is not None and owner is not None:
                return self._member_value(owner, member, obj, name)
            return Unknown(f"{obj.name}.{name}")
        if isinstance(obj, Leaf):
            if name in obj.attrs:
                return obj.attrs[name]
            return Unknown(f"{obj.class_name}.{name}")
        if isinstance(obj, ProfileObject):
            if name in obj.attrs:
                return obj.attrs[name]
            return Unknown(f"{obj.name}.{name}")
        if isinstance(obj, ModuleRef):
            return self.resolve_qualified(f"{obj.dotted}.{name}")
        if isinstance(obj, External):
            qual = f"{obj.qualname}.{name}"
            return self._builtins.get(qual) or External(qual)
        if isinstance(obj, Builtin) and obj.pytype is not None:
            return Unknown(f"{obj.name}.{name}")
        value = unwrap(obj)
        if isinstance(value, (str, list, dict, tuple, set, int, float)) and not name.startswith("_"):
            try:
                return getattr(value, name)
            except AttributeError:
                return Unknown(f"{type(value).__name__}.{name}")
        return Unknown(f"attribute {name}")

    def _eval_Call(self, node: cst.Call, frame: Frame) -> Any:
        if isinstance(node.func, cst.Name) and node.func.value == "super":
            return _SuperProxy(self, frame, node)
        callee = self.eval(node.func, frame)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for arg in node.args:
            value = self._safe_eval(arg.value, frame)
            if arg.star == "*":
                items = unwrap(value)
                if isinstance(items, (list, tuple)):
                    args.extend(items)
                else:
                    return Unknown("call with *args")
            elif arg.star == "**":
                if isinstance(value, dict):
                    kwargs.update({str(k): v for k, v in value.items()})
                elif isinstance(value, Choice):
                    dicts = [o for o in value.options if isinstance(o, dict)]
                    if dicts:
                        kwargs.update({str(k): v for k, v in dicts[0].items()})
            elif arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            else:
                args.append(value)
        if isinstance(callee, _SuperProxy):
            return Unknown("super()")
        if isinstance(callee, Unknown) and isinstance(node.func, cst.Attribute):
            guess = predicate_default(node.func.attr.value)
            if guess is not None:
                return guess
        return self.call(callee, args, kwargs, frame, node)

    def _eval_BinaryOperation(self, node: cst.BinaryOperation, frame: Frame) -> Any:
        op = BIN_OPS[type(node.operator).__name__]
        return apply_binary(op, self.eval(node.left, frame), self.eval(node.right, frame))

    def _eval_UnaryOperation(self, node: cst.UnaryOperation, frame: Frame) -> Any:
        value = self.eval(node.expression, frame)
        op = type(node.operator).__name__
        if op == "Not":
            known = truth(value)
            return Unknown("not ...") if known is None else (not known)
        if isinstance(value, (Unknown, Choice)):
            return (
                value
                if isinstance(value, Unknown)
                else make_choice([apply_binary("*", o, -1) if op == "Minus" else o for o in value.options])
            )
        raw = unwrap(value)
        try:
            result = -raw if op == "Minus" else (+raw if op == "Plus" else ~raw)
        except Exception:
            return Unknown("unary")
        return Sym(result, f"-{expr_of(value)}") if isinstance(value, Sym) else result

    def _eval_BooleanOperation(self, node: cst.BooleanOperation, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        known = truth(left)
        is_and = isinstance(node.operator, cst.And)
        if known is not None:
            if is_and:
                return self.eval(node.right, frame) if known else left
            return left if known else self.eval(node.right, frame)
        right = self.eval(node.right, frame)
        right_known = truth(right)
        if is_and and right_known is False:
            return False
        if not is_and and right_known is True:
            return right
        return Unknown(f"{code_of(node)[:60]}")

    def _eval_Comparison(self, node: cst.Comparison, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        result: Any = True
        for target in node.comparisons:
            right = self.eval(target.comparator, frame)
            op = CMP_OPS[type(target.operator).__name__]
            outcome = apply_compare(op, left, right)
            known = truth(outcome)
            if known is False:
                return False
            if known is None:
                result = Unknown(code_of(node)[:60])
            left = right
        return result

    def _eval_IfExp(self, node: cst.IfExp, frame: Frame) -> Any:
        known = truth(self.eval(node.test, frame))
        if known is True:
            return self.eval(node.body, frame)
        if known is False:
            return self.eval(node.orelse, frame)
        return make_choice([self._safe_eval(node.body, frame), self._safe_eval(node.orelse, frame)])

    def _eval_Subscript(self, node: cst.Subscript, frame: Frame) -> Any:
        container = self.eval(node.value, frame)
        if isinstance(container, Unknown):
            return container
        if isinstance(container, (External, ClassValue, Builtin)):
            return container  # typing generics such as Optional[int]
        if len(node.slice) != 1:
            return Unknown("multi-dimensional subscript")
        element = node.slice[0].slice
        if isinstance(element, cst.Slice):
            parts = [
                unwrap(self.eval(p, frame)) if p is not None else None
                for p in (element.lower, element.upper, element.step)
            ]
            try:
                return unwrap(container)[slice(*parts)]
            except Exception:
                return Unknown("slice")
        key = self.eval(element.value, frame)
        if isinstance(container, ConfigObject):
            raw = unwrap(key)
            return container.get(raw) if isinstance(raw, str) and container.has(raw) else Unknown(f"config[{raw!r}]")
        if isinstance(container, LayerList):
            idx = unwrap(key)
            return (
                container.layers[idx]
                if isinstance(idx, int) and -len(container.layers) <= idx < len(container.layers)
                else Unknown("layer index")
            )
        if isinstance(key, Unknown):
            return key
        try:
            return unwrap(container)[unwrap(key)]
        except Exception as exc:
            return Unknown(f"{type(exc).__name__} in subscript")

    def _eval_List(self, node: cst.List, frame: Frame) -> Any:
        return self._elements(node.elements, frame)

    def _eval_Tuple(self, node: cst.Tuple, frame: Frame) -> Any:
        items = self._elements(node.elements, frame)
        return tuple(items) if isinstance(items, list) else items

    def _eval_Set(self, node: cst.Set, frame: Frame) -> Any:
        items = self._elements(node.elements, frame)
        try:
            return set(unwrap(i) for i in items) if isinstance(items, list) else items
        except TypeError:
            return Unknown("set")

    def _elements(self, elements, frame: Frame) -> Any:
        items: list[Any] = []
        for element in elements:
            value = self._safe_eval(element.value, frame)
            if isinstance(element, cst.StarredElement):
                inner = unwrap(value)
                if isinstance(inner, LayerList):
                    inner = inner.layers
                if isinstance(inner, (set, frozenset)):
                    inner = list(inner)
                if not isinstance(inner, (list, tuple)):
                    return Unknown("starred element")
                items.extend(inner)
            else:
                items.append(value)
        return items

    def _eval_Dict(self, node: cst.Dict, frame: Frame) -> Any:
        result: dict[Any, Any] = {}
        for element in node.elements:
            if isinstance(element, cst.StarredDictElement):
                inner = self._safe_eval(element.value, frame)
                if isinstance(inner, dict):
                    result.update(inner)
                continue
            key = unwrap(self._safe_eval(element.key, frame))
            try:
                result[key] = self._safe_eval(element.value, frame)
            except TypeError:
                return Unknown("dict key")
        return result

    def _comprehension(self, node, frame: Frame, produce: Callable[[Frame], Any]) -> Any:
        results: list[Any] = []

        def run(for_in: cst.CompFor | None, inner: Frame) -> bool:
            if for_in is None:
                results.append(produce(inner))
                return True
            iterable = unwrap(self._safe_eval(for_in.iter, inner))
            if isinstance(iterable, LayerList):
                iterable = iterable.layers
            if isinstance(iterable, dict):
                iterable = list(iterable)
            if not isinstance(iterable, (list, tuple, range, set, frozenset, str)):
                return False
            for count, item in enumerate(iterable):
                if count >= MAX_LOOP:
                    break
                self._assign(for_in.target, item, inner)
                if all(truth(self._safe_eval(cond.test, inner)) is not False for cond in for_in.ifs):
                    if not run(for_in.inner_for_in, inner):
                        return False
            return True

        inner = Frame(
            module=frame.module,
            locals=dict(frame.locals),
            cls=frame.cls,
            self_obj=frame.self_obj,
            closure=frame.closure,
            conditions=frame.conditions,
        )
        return results if run(node.for_in, inner) else Unknown("comprehension over unknown")

    def _eval_ListComp(self, node: cst.ListComp, frame: Frame) -> Any:
        return self._comprehension(node, frame, lambda f: self._safe_eval(node.elt, f))

    def _eval_GeneratorExp(self, node: cst.GeneratorExp, frame: Frame) -> Any:
        return self._comprehension(node, frame, lambda f: self._safe_eval(node.elt, f))

    def _eval_SetComp(self, node: cst.SetComp, frame: Frame) -> Any:
        items = self._comprehension(node, frame, lambda f: unwrap(self._safe_eval(node.elt, f)))
        try:
            return set(items) if isinstance(items, list) else items
        except TypeError:
            return Unknown("set")

    def _eval_DictComp(self, node: cst.DictComp, frame: Frame) -> Any:
        pairs = self._comprehension(
            node, frame, lambda f: (unwrap(self._safe_eval(node.key, f)), self._safe_eval(node.value, f))
        )
        try:
            return dict(pairs) if isinstance(pairs, list) else pairs
        except TypeError:
            return Unknown("dict comprehension")

    def _eval_Lambda(self, node: cst.Lambda, frame: Frame) -> Any:
        return LambdaValue(
            node=node,
            module=frame.module.name,
            env=self._closure(frame),
            frame_class=frame.cls,
            self_obj=frame.self_obj,
        )

    def _eval_NamedExpr(self, node: cst.NamedExpr, frame: Frame) -> Any:
        value = self.eval(node.value, frame)
        self._assign(node.target, value, frame)
        return value

    def _super_attr(self, proxy: "_SuperProxy", name: str) -> Any:
        frame = proxy.frame
        obj = frame.self_obj
        start = frame.cls
        if proxy.node.args:
            start_value = self.eval(proxy.node.args[0].value, frame)
            start = start_value if isinstance(start_value, ClassValue) else start
            if len(proxy.node.args) > 1:
                obj = self.eval(proxy.node.args[1].value, frame)
        if start is None:
            return Unknown("super() outside a class")
        base_cls = obj.cls if isinstance(obj, Instance) else (obj if isinstance(obj, ClassValue) else start)
        owner, member = self.lookup_class_attr(base_cls, name, start_after=start)
        if member is None or owner is None:
            return Builtin(f"super.{name}", lambda *a, **k: None)  # e.g. nn.Module.__init__
        if name == "__init__" and isinstance(obj, Instance) and self.is_layer_class(owner):
            # A model-local subclass of an SGLang layer (gpt-oss's TinyGemmLinear extends
            # ReplicatedLinear): the layer's own arguments make it that layer's leaf.
            def record(*args: Any, **kwargs: Any) -> None:
                self.layer_inits[id(obj)] = (owner, list(args), dict(kwargs))

            return Builtin("super.__init__", lambda _frame, _node, *a, **k: record(*a, **k))
        return self._member_value(owner, member, obj, name)


class _SuperProxy:
    """`super()` inside a method: attribute access continues the MRO after the frame's class."""

    def __init__(self, interp: Any, frame: Frame, node: cst.Call) -> None:
        self.interp, self.frame, self.node = interp, frame, node
