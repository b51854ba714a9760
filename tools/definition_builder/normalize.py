"""Turns a trace template's definition dict into a flashinfer-trace dataset Definition.

The template output differs from the dataset in known, mechanical ways (the same ones
flashinfer-bench's extract-kernel-definitions skill patches after a trace dump):

- names: the dataset's longer names (`naming.dataset_name`);
- the reference function is `_<x>_reference`; the dataset requires `def run(...)`;
- inputs are exactly the reference's required parameters, in order (the benchmark calls
  `run(*inputs)`); run-time switches such as `return_lse` are dropped, and axes that only
  they used go too;
- plan-time index tensors come back with dtype `unknown`: FlashInfer plans them as int32;
- in-place outputs repeat an input's name: the reference does not return them;
- `status:` is ours to set (from our own verification), never the template's; the
  builder replaces the template's tags with the dataset's for the family.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import libcst as cst

from tools import naming
from tools.errors import DefinitionError

# Plan-time index tensors, typed int32 by FlashInfer's wrappers.
INDEX_TENSORS = frozenset({"qo_indptr", "kv_indptr", "kv_indices", "paged_kv_indptr", "paged_kv_indices", "kv_last_page_len"})

DEFINITION_KEYS = ("name", "description", "op_type", "tags", "axes", "constraints", "inputs", "outputs", "reference")
_TENSOR_KEYS = ("shape", "dtype", "description")
_AXIS_KEYS = ("type", "value", "description")

_AXIS_DESCRIPTIONS = {
    "batch_size": "Number of sequences (decode) or rows in the batch.",
    "total_q": "Total number of query tokens across the batch.",
    "total_kv": "Total number of key/value tokens across the batch.",
    "num_pages": "Number of pages in the paged KV cache.",
    "len_indptr": "Length of the indptr arrays (batch size + 1).",
    "num_kv_indices": "Total number of KV page indices.",
    "M": "Number of rows of A (tokens).",
    "N": "Output features.",
    "K": "Input features (reduction dimension).",
    "hidden_size": "Hidden size.",
    "vocab_size": "Vocabulary size.",
    "num_qo_heads": "Query/output heads per GPU after tensor-parallel split.",
    "num_kv_heads": "Key/value heads per GPU after tensor-parallel split.",
    "head_dim": "Head dimension.",
    "page_size": "Tokens per KV-cache page.",
}


def normalize_template_definition(
    raw: dict[str, Any],
    *,
    reference_name: str | None = None,
    param_aliases: dict[str, str] | None = None,
    kept_axes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A dataset-convention definition dict (tags still without model/status context).

    `param_aliases` renames reference parameters to the input names the template gives
    them (a few templates call the tensor `input` in code and `hidden_states` in JSON).
    `kept_axes` are kept although no input, output or constraint uses them.
    """
    template_name = raw.get("name")
    if not template_name or "reference" not in raw:
        raise DefinitionError(f"Trace template output for {template_name!r} has no name or no reference.")
    reference, params, returned = rename_reference_to_run(raw["reference"], reference_name, param_aliases or {})
    inputs = _select_inputs(raw.get("inputs", {}), params, template_name)
    outputs = {
        name: _clean_tensor(spec)
        for name, spec in raw.get("outputs", {}).items()
        if name not in inputs  # in-place outputs (same name as an input) are not returned
    }
    if returned is not None and returned < len(outputs):
        # Outputs written in place into optional buffers the reference does not return.
        outputs = dict(list(outputs.items())[:returned])
    for name, spec in inputs.items():
        if spec["dtype"] == "unknown":
            if name in INDEX_TENSORS:
                spec["dtype"] = "int32"
            else:
                raise DefinitionError(f"{template_name}: input {name!r} has no dtype in the trace template.")
    for name, spec in outputs.items():
        if spec["dtype"] == "unknown":
            raise DefinitionError(f"{template_name}: output {name!r} has no dtype in the trace template.")
    constraints = list(raw.get("constraints", []))
    axes = _used_axes(raw.get("axes", {}), inputs, outputs, constraints, kept_axes)
    # status: is set by our verification; model: by the extraction (templates carry examples).
    tags = [t for t in raw.get("tags", []) if not t.startswith((naming.STATUS_TAG_PREFIX, naming.MODEL_TAG_PREFIX))]
    definition: dict[str, Any] = {
        "name": naming.dataset_name(template_name),
        "description": raw.get("description") or "",
        "op_type": raw["op_type"],
        "tags": tags,
        "axes": axes,
    }
    if constraints:
        definition["constraints"] = constraints
    definition["inputs"] = inputs
    definition["outputs"] = outputs
    definition["reference"] = reference
    return definition


def rename_reference_to_run(
    source: str, reference_name: str | None = None, param_aliases: dict[str, str] | None = None
) -> tuple[str, list[tuple[str, bool]], int | None]:
    """Rename the reference function to `run` (and aliased parameters); return the new
    source, `run`'s parameters as (name, has_default) pairs, and how many values every
    `return` of `run` yields (None when that cannot be read off the code)."""
    module = ast.parse(source)
    functions = [node for node in module.body if isinstance(node, ast.FunctionDef)]
    if not functions:
        raise DefinitionError("Reference code defines no function.")
    if reference_name is None:
        candidates = [f for f in functions if f.name == "run"] or [f for f in functions if re.match(r"^_.*_reference$", f.name)]
        target = candidates[-1] if candidates else functions[-1]
    else:
        matches = [f for f in functions if f.name == reference_name]
        if not matches:
            raise DefinitionError(f"Reference code has no function {reference_name!r}.")
        target = matches[-1]
    aliases = dict(param_aliases or {})
    args = target.args
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(args.defaults)
    params = [(aliases.get(a.arg, a.arg), i >= first_default) for i, a in enumerate(positional)]
    returned = _returned_count(target)
    if target.name != "run" and any(f.name == "run" for f in functions):
        raise DefinitionError("Reference code already defines another function named `run`.")
    renames = {target.name: "run", **aliases} if target.name != "run" else aliases
    if not renames:
        return source, params, returned
    renamed = cst.parse_module(source).visit(_Rename(target.name, renames)).code
    return renamed, params, returned


def _returned_count(function: ast.FunctionDef) -> int | None:
    counts = set()
    stack = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            counts.add(len(node.value.elts) if isinstance(node.value, ast.Tuple) else None)
        stack.extend(ast.iter_child_nodes(node))
    return counts.pop() if len(counts) == 1 else None


class _Rename(cst.CSTTransformer):
    """Renames the target function, and the names in `renames` inside it."""

    def __init__(self, target: str, renames: dict[str, str]) -> None:
        self.target, self.renames = target, renames
        self.depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if node.name.value == self.target or self.depth:
            self.depth += 1
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if self.depth:
            self.depth -= 1
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if updated_node.value == self.target:
            return updated_node.with_changes(value=self.renames[self.target])
        if self.depth and updated_node.value in self.renames:
            return updated_node.with_changes(value=self.renames[updated_node.value])
        return updated_node


def _select_inputs(raw_inputs: dict[str, Any], params: list[tuple[str, bool]], name: str) -> dict[str, Any]:
    required = [p for p, has_default in params if not has_default]
    missing = [p for p in required if p not in raw_inputs]
    if missing:
        raise DefinitionError(f"{name}: reference parameters {missing} are not inputs of the trace template.")
    return {p: _clean_tensor(raw_inputs[p]) for p in required}


def _clean_tensor(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: spec[k] for k in _TENSOR_KEYS if k in spec}


def _used_axes(axes: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, Any], constraints: list[str], kept: tuple[str, ...]) -> dict[str, Any]:
    used: set[str] = set(inputs) | set(kept)  # a scalar input named after an axis keeps its value
    for spec in (*inputs.values(), *outputs.values()):
        used.update(spec["shape"] or [])
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(constraints)))
    result = {}
    for axis, spec in axes.items():
        if axis in used or axis in words:
            clean = {k: spec[k] for k in _AXIS_KEYS if k in spec}
            if "description" not in clean and axis in _AXIS_DESCRIPTIONS:
                clean["description"] = _AXIS_DESCRIPTIONS[axis]
            result[axis] = clean
    return result
