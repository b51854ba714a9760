"""An LLM's reply -> a dataset Definition, or the list of what is wrong with it.

`parse_reply(text)` finds the JSON object (bare or in a code fence) and validates its
fields; `definition_from_reply(reply, brief)` applies the dataset's rules, adds the
extraction's tags and validates the result with flashinfer-bench's own `Definition`.
Both raise `ReplyProblem` with messages meant to be sent back to the model verbatim.

Running the reference is not done here: that is verification's job (static check,
then the sandbox), after which a failure is a repair, not a malformed reply.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from tools import naming
from tools.dataset_conventions import TAGS, dataset_tags
from tools.definition_builder.builder import validate_definition
from tools.drafting.brief import DraftBrief
from tools.errors import DefinitionError

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)

class ReplyProblem(Exception):
    """The reply is unusable; `problems` say why, in words for the model."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class AxisReply(BaseModel):
    type: Literal["const", "var"]
    value: int | None = None
    description: str | None = None


class TensorReply(BaseModel):
    shape: list[str] | None
    """Axis names; null for a scalar."""
    dtype: str
    description: str | None = None


class DraftReply(BaseModel):
    """The JSON object the model replies with: a Definition without tags."""

    name: str
    op_type: str
    description: str = ""
    axes: dict[str, AxisReply]
    constraints: list[str] = Field(default_factory=list)
    inputs: dict[str, TensorReply]
    outputs: dict[str, TensorReply]
    reference: str


def parse_reply(text: str) -> DraftReply:
    """The reply's JSON object as a DraftReply."""
    fenced = _FENCED.search(text)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise ReplyProblem(["the reply contains no JSON object; reply with exactly one JSON object"])
    try:
        data = json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ReplyProblem([f"the JSON object does not parse: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    try:
        return DraftReply.model_validate(data)
    except ValidationError as exc:
        raise ReplyProblem([f"field {'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()]) from None


def definition_from_reply(reply: DraftReply, brief: DraftBrief) -> dict[str, Any]:
    """The dataset definition the reply describes, checked against the dataset's rules."""
    problems = _naming_problems(reply, brief) + _axis_problems(reply, brief) + _signature_problems(reply)
    if problems:
        raise ReplyProblem(problems)
    definition: dict[str, Any] = {
        "name": reply.name,
        "description": reply.description,
        "op_type": reply.op_type,
        "tags": draft_tags(
            brief.model_slug, reply.op_type, reply.name, tp=brief.tp, ep=brief.ep,
            stage=brief.target.stage if brief.target else None, quantization=brief.target.quantization if brief.target else None,
        ),
        "axes": {name: axis.model_dump(exclude_none=True) for name, axis in reply.axes.items()},
    }
    if reply.constraints:
        definition["constraints"] = list(reply.constraints)
    definition["inputs"] = {name: _tensor(t) for name, t in reply.inputs.items()}
    definition["outputs"] = {name: _tensor(t) for name, t in reply.outputs.items()}
    definition["reference"] = reply.reference
    try:
        validate_definition(definition)
    except DefinitionError as exc:
        raise ReplyProblem([exc.message]) from None
    return definition


def _tensor(tensor: TensorReply) -> dict[str, Any]:
    spec: dict[str, Any] = {"shape": tensor.shape, "dtype": tensor.dtype}
    if tensor.description:
        spec["description"] = tensor.description
    return spec


def draft_tags(
    model_slug: str, op_type: str, name: str | None, *, tp: int, ep: int, stage: str | None = None, quantization: str | None = None
) -> list[str]:
    """The dataset's tags on an LLM-drafted definition, in its order: stage, status, model,
    quantization, and the parallel sizes the op type's files carry. That an LLM drafted it
    is recorded in `DIR/.agent/drafted.json` and the report, not in a tag."""
    descriptive = (naming.quantization_tag(quantization),) if quantization else ()
    # An op type the dataset has no files of carries ep: only where experts are split.
    known = op_type in TAGS
    return dataset_tags(op_type=op_type, name=name, model_slug=model_slug, stage=stage, descriptive=descriptive, tps=[tp], ep=ep if known or ep > 1 else None)


BLOCK = 128
"""The quantization block the dataset's block counts are taken over."""


def _naming_problems(reply: DraftReply, brief: DraftBrief) -> list[str]:
    problems = []
    for field, value in (("name", reply.name), ("op_type", reply.op_type)):
        if not _IDENTIFIER.match(value):
            problems.append(f"{field} {value!r} must be lowercase snake_case (letters, digits, underscores)")
    named = {int(n) for n in re.findall(r"\d+", reply.name)}
    missing = [
        f"{axis}={spec.value}"
        for axis, spec in reply.axes.items()
        if spec.type == "const" and (spec.value or 0) > 1 and spec.value not in named and not _derived(spec.value, named, brief.ep)
    ]
    if missing:
        problems.append(
            f"name {reply.name!r} must carry the values of its independent constant axes, as in "
            f"gqa_paged_decode_h32_kv8_d128_ps1 (axes derived from named ones may be left out, as the dataset's MoE "
            f"names leave out gemm1_out_size = 2 x intermediate_size); missing: {', '.join(missing)}"
        )
    return problems


def _derived(value: int, named: set[int], ep: int) -> bool:
    """The dataset's naming rule (flashinfer-bench's MoE and DSA definitions): a constant
    axis that follows from a named one is not named: twice it (gemm1_out_size of a gated
    MoE), its count of 128-blocks (num_hidden_blocks), EP times it (the global expert count
    beside the local one), or it plus 4 (the DSA indexer's head_dim_with_scale: an fp8 row
    and its float32 scale)."""
    for n in named:
        if value in (2 * n, -(-n // BLOCK), -(-2 * n // BLOCK), n * ep, n + 4):
            return True
    return False


def _axis_problems(reply: DraftReply, brief: DraftBrief) -> list[str]:
    problems = []
    for name, axis in reply.axes.items():
        if axis.type == "const" and axis.value is None:
            problems.append(f"axis {name!r} is const but has no value")
        if axis.type == "var" and axis.value is not None:
            problems.append(f"axis {name!r} is var but has a value; var axes are sized at run time")
    input_axes = {a for t in reply.inputs.values() for a in (t.shape or [])}
    for name, tensor in reply.outputs.items():
        unbound = [a for a in (tensor.shape or []) if a in reply.axes and reply.axes[a].type == "var" and a not in input_axes]
        if unbound:
            problems.append(f"output {name!r} uses var axes {unbound} that no input has: their size could not be known")
    if brief.target:
        for axis, value in brief.target.const_axes.items():
            got = reply.axes.get(axis)
            if got is None or got.type != "const" or got.value != value:
                problems.append(f"axis {axis!r} must be const with value {value} (from the model), got {got.model_dump(exclude_none=True) if got else 'nothing'}")
    return problems


def _signature_problems(reply: DraftReply) -> list[str]:
    try:
        module = ast.parse(reply.reference)
    except SyntaxError as exc:
        return [f"reference does not parse: line {exc.lineno}: {exc.msg}"]
    runs = [node for node in module.body if isinstance(node, ast.FunctionDef) and node.name == "run"]
    if not runs:
        return ["reference defines no top-level function `run`"]
    args = runs[-1].args
    positional = args.posonlyargs + args.args
    required = [a.arg for a in positional[: len(positional) - len(args.defaults)]]
    if required != list(reply.inputs):
        return [f"run() takes {required} but the inputs are {list(reply.inputs)}: they must be the same names in the same order (the benchmark calls run(*inputs))"]
    return []
