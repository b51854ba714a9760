"""Prompt templates from `prompts/`, rendered strictly, and the drafting messages built from them.

Templates use `${name}` placeholders (`string.Template`). Rendering fails loudly when a
placeholder has no value or a value has no placeholder: a typo in either would
otherwise send the model a prompt with a hole in it.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from tools.drafting.brief import DraftBrief

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"


class PromptTemplateError(Exception):
    """A template and its variables do not match (a bug in the agent)."""


def render(template_name: str, /, **variables: object) -> str:
    path = PROMPTS_DIR / f"{template_name}.md"
    template = string.Template(path.read_text(encoding="utf-8"))
    if not template.is_valid():
        raise PromptTemplateError(f"{path}: invalid placeholder (write a literal $ as $$)")
    wanted = set(template.get_identifiers())
    missing, unused = wanted - set(variables), set(variables) - wanted
    if missing or unused:
        raise PromptTemplateError(f"{path}: no value for {sorted(missing)}; no placeholder for {sorted(unused)}")
    return template.substitute({k: str(v) for k, v in variables.items()})


def draft_messages(brief: DraftBrief) -> list[dict[str, str]]:
    """The system and user messages that ask for a first draft."""
    return [{"role": "system", "content": render("draft_system")}, {"role": "user", "content": render("draft_reference", **_brief_variables(brief))}]


def repair_messages(brief: DraftBrief, last_reply: str, *, name: str, report: str, attempt: int, max_attempts: int) -> list[dict[str, str]]:
    """The draft conversation, the model's failed reply, and the verification report."""
    repair = render("repair_reference", name=name, report=report, attempt=attempt, max_attempts=max_attempts)
    return draft_messages(brief) + [{"role": "assistant", "content": last_reply}, {"role": "user", "content": repair}]


def malformed_reply_message(problems: list[str]) -> str:
    return render("malformed_reply", problems="\n".join(f"- {p}" for p in problems))


def _brief_variables(brief: DraftBrief) -> dict[str, object]:
    return {
        "model_name": f"{brief.model_name} ({brief.model_slug})",
        "sglang_version": brief.sglang_version,
        "tp": brief.tp,
        "ep": brief.ep,
        "class_name": brief.class_name,
        "kind": brief.kind,
        "location": brief.location or "unknown",
        "components": ", ".join(f"`{c}`" for c in brief.components),
        "layers": _layers(brief.layers),
        "reason": brief.reason,
        "parameters": _bullets(brief.parameters) or "- none known (read them from the source and the config)",
        "source": brief.source or "# source not available",
        "config": _bullets({k: json.dumps(v) if not isinstance(v, str) else v for k, v in brief.config.items()}),
        "target": _target(brief),
        "example": render("example_definition", origin=brief.example_origin, definition=json.dumps(brief.example, indent=2)) if brief.example else "",
    }


def _target(brief: DraftBrief) -> str:
    target = brief.target
    if target is None:
        return render("target_open")
    facts = {"stage": target.stage, "quantization": target.quantization, **target.options}
    described = ", ".join(f"{k}={v}" for k, v in facts.items() if v is not None) or "none"
    return render("target_known_family", family=target.family, const_axes=_bullets(target.const_axes), facts=described)


def _bullets(values: dict[str, object]) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in values.items())


def _layers(layers: list[int]) -> str:
    if not layers:
        return "outside the decoder stack"
    if layers == list(range(layers[0], layers[-1] + 1)) and len(layers) > 3:
        return f"{layers[0]}-{layers[-1]}"
    return ", ".join(map(str, layers))
