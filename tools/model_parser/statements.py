"""Statements of the model interpreter: blocks, branches (explored both ways when the
condition is unknown), loops over known iterables, assignments."""

from __future__ import annotations

from typing import Any, Callable

import libcst as cst

from tools.model_parser.frames import (
    AUG_OPS,
    BREAK,
    CONTINUE,
    DEAD,
    BudgetExceeded,
    Dead,
    Frame,
    MAX_LOOP,
    MAX_STEPS,
    Return,
    code_of,
    decorator_name,
    dotted_name,
    merge_states,
    restore,
    snapshot,
)
from tools.model_parser.values import (
    FunctionValue,
    Instance,
    Leaf,
    Unknown,
    apply_binary,
    make_choice,
    truth,
    unwrap,
)
from tools.model_parser.runtime import ProfileObject


class StatementsMixin:
    """Executes statements; mixed into ModelInterpreter, which provides eval and calls."""

    def exec_block(self, body, frame: Frame) -> Any:
        for stmt in body:
            self._steps += 1
            if self._steps > MAX_STEPS:
                raise BudgetExceeded()
            flow = self.exec_stmt(stmt, frame)
            if flow is not None:
                return flow
        return None

    def exec_stmt(self, stmt: cst.CSTNode, frame: Frame) -> Any:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                flow = self._exec_small(small, frame)
                if flow is not None:
                    return flow
            return None
        if isinstance(stmt, cst.If):
            return self._exec_if(stmt, frame)
        if isinstance(stmt, cst.For):
            return self._exec_for(stmt, frame)
        if isinstance(stmt, cst.Try):
            flow = self.exec_block(stmt.body.body, frame)
            if flow is None and stmt.orelse is not None:
                flow = self.exec_block(stmt.orelse.body.body, frame)
            if stmt.finalbody is not None:
                self.exec_block(stmt.finalbody.body.body, frame)
            return flow
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                value = self._safe_eval(item.item, frame)
                if item.asname is not None:
                    self._assign(item.asname.name, value, frame)
            return self.exec_block(stmt.body.body, frame)
        if isinstance(stmt, cst.FunctionDef):
            decorators = {decorator_name(d) for d in stmt.decorators}
            frame.locals[stmt.name.value] = FunctionValue(
                stmt.name.value,
                frame.module.name,
                stmt,
                closure=self._closure(frame),
                kind="function" if not decorators else "function",
            )
            return None
        if isinstance(stmt, cst.ClassDef):
            frame.locals[stmt.name.value] = self._class_value(frame.module, stmt)
            return None
        return None  # while loops and anything else: skipped

    def _closure(self, frame: Frame) -> dict[str, Any]:
        env = dict(frame.closure or {})
        env.update(frame.locals)
        return env

    def _exec_small(self, small: cst.BaseSmallStatement, frame: Frame) -> Any:
        if isinstance(small, cst.Expr):
            self._safe_eval(small.value, frame)
        elif isinstance(small, cst.Assign):
            value = self._safe_eval(small.value, frame)
            for target in small.targets:
                self._assign(target.target, value, frame)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self._assign(small.target, self._safe_eval(small.value, frame), frame)
        elif isinstance(small, cst.AugAssign):
            current = self._safe_eval(small.target, frame)
            op = small.operator.__class__.__name__
            value = apply_binary(AUG_OPS.get(op, "+"), current, self._safe_eval(small.value, frame))
            self._assign(small.target, value, frame)
        elif isinstance(small, cst.Return):
            return Return(self._safe_eval(small.value, frame) if small.value is not None else None)
        elif isinstance(small, cst.Raise):
            raise Dead(frame.module.location(small), code_of(small)[:160])
        elif isinstance(small, cst.Assert):
            if truth(self._safe_eval(small.test, frame)) is False:
                raise Dead(frame.module.location(small), code_of(small)[:160])
        elif isinstance(small, cst.Break):
            return BREAK
        elif isinstance(small, cst.Continue):
            return CONTINUE
        elif isinstance(small, cst.ImportFrom):
            self._local_import_from(small, frame)
        elif isinstance(small, cst.Import):
            for alias in small.names:
                name = dotted_name(alias.name)
                local = alias.asname.name.value if alias.asname else name.split(".")[0]
                frame.locals[local] = self.resolve_qualified(name if alias.asname else name.split(".")[0])
        return None

    def _local_import_from(self, small: cst.ImportFrom, frame: Frame) -> None:
        if isinstance(small.names, cst.ImportStar) or small.module is None and not small.relative:
            return
        level = len(small.relative)
        module = dotted_name(small.module) if small.module is not None else ""
        if level:
            package = frame.module.name.rsplit(".", level)[0]
            module = f"{package}.{module}" if module else package
        for alias in small.names:
            name = dotted_name(alias.name)
            local = alias.asname.name.value if alias.asname else name
            frame.locals[local] = self.resolve_qualified(f"{module}.{name}")

    def _exec_if(self, stmt: cst.If, frame: Frame) -> Any:
        test = self._safe_eval(stmt.test, frame)
        known = truth(test)
        orelse = stmt.orelse
        if known is True:
            return self.exec_block(stmt.body.body, frame)
        if known is False:
            return self._exec_orelse(orelse, frame)
        text = code_of(stmt.test)
        before = snapshot(frame)
        frame.conditions.append(text)
        flow_a, state_a = self._run_branch(lambda: self.exec_block(stmt.body.body, frame), frame)
        frame.conditions.pop()
        restore(frame, before)
        frame.conditions.append(f"not ({text})")
        flow_b, state_b = self._run_branch(lambda: self._exec_orelse(orelse, frame), frame)
        frame.conditions.pop()
        return self._merge(frame, flow_a, state_a, flow_b, state_b)

    def _run_branch(self, run: Callable[[], Any], frame: Frame):
        try:
            flow = run()
        except Dead:
            flow = DEAD
        return flow, snapshot(frame)

    def _exec_orelse(self, orelse, frame: Frame) -> Any:
        if orelse is None:
            return None
        if isinstance(orelse, cst.If):
            return self._exec_if(orelse, frame)
        return self.exec_block(orelse.body.body, frame)

    def _merge(self, frame: Frame, flow_a, state_a, flow_b, state_b) -> Any:
        if flow_a is DEAD and flow_b is DEAD:
            raise Dead()
        if flow_a is DEAD:
            restore(frame, state_b)
            return flow_b
        if flow_b is DEAD:
            restore(frame, state_a)
            return flow_a
        if isinstance(flow_a, Return) and isinstance(flow_b, Return):
            return Return(make_choice([flow_a.value, flow_b.value]))
        if isinstance(flow_a, Return):
            frame.pending_returns.append(flow_a.value)
            restore(frame, state_b)
            return None
        if isinstance(flow_b, Return):
            frame.pending_returns.append(flow_b.value)
            restore(frame, state_a)
            return None
        restore(frame, merge_states(state_a, state_b))
        return None

    def _exec_for(self, stmt: cst.For, frame: Frame) -> Any:
        iterable = unwrap(self._safe_eval(stmt.iter, frame))
        if isinstance(iterable, dict):
            iterable = list(iterable)
        if not isinstance(iterable, (list, tuple, range, set, frozenset, str)):
            return None  # an unknown iterable: its body cannot be followed
        for count, item in enumerate(iterable):
            if count >= MAX_LOOP:
                break
            self._assign(stmt.target, item, frame)
            flow = self.exec_block(stmt.body.body, frame)
            if flow is BREAK:
                return None
            if isinstance(flow, Return) or flow is DEAD:
                return flow
        else:
            if stmt.orelse is not None:
                return self.exec_block(stmt.orelse.body.body, frame)
        return None

    def _assign(self, target: cst.BaseExpression, value: Any, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            frame.locals[target.value] = value
        elif isinstance(target, cst.Attribute):
            obj = self._safe_eval(target.value, frame)
            if isinstance(obj, (Instance, Leaf)):
                obj.attrs[target.attr.value] = value
            elif isinstance(obj, ProfileObject):
                obj.attrs[target.attr.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            items = unwrap(value)
            if (
                isinstance(items, (list, tuple))
                and not any(isinstance(e, cst.StarredElement) for e in elements)
                and len(items) == len(elements)
            ):
                for element, item in zip(elements, items):
                    self._assign(element.value, item, frame)
            else:
                for element in elements:
                    inner = element.value
                    self._assign(inner, Unknown("unpacked value"), frame)
        elif isinstance(target, cst.Subscript):
            container = self._safe_eval(target.value, frame)
            if isinstance(container, (dict, list)) and len(target.slice) == 1:
                index_node = target.slice[0].slice
                if isinstance(index_node, cst.Index):
                    key = unwrap(self._safe_eval(index_node.value, frame))
                    try:
                        container[key] = value
                    except Exception:
                        pass
