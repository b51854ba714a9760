"""LLM drafting and repair of the kernels no template covers (the draft and repair nodes).

    draft_tasks(state, context)    drafts the next kernel waiting for one (`needs_llm`)
    repair_tasks(state, context)   redrafts the next kernel whose draft failed, quoting
                                   the verification report back to the model

Each call handles one kernel, so the graph checkpoints after every LLM exchange and an
interrupted run redoes at most one. A reply that becomes a valid Definition is
`drafted` (the verify node runs it); a reply still unusable after the format retries is
a failed attempt whose report lists the problems, so it is repaired like any other
failure. When the endpoint is unreachable or refuses, or the token budget is spent, the
LLM stage stops: `llm_stopped` says why and undrafted kernels stay pending.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agent.context import AgentContext
from agent.llm import LLMRejectedError, LLMUnavailableError, MalformedReplyError, StructuredReply
from agent.prompts import draft_messages, malformed_reply_message, repair_messages
from agent.state import CheckRecord, ExtractionState, KernelTask, TokenUsage
from tools.dedup_store import DefinitionStore
from tools.drafting.brief import DraftBrief, choose_example, describe_parameters, flatten_config, likely_op_types, target_from_spec
from tools.drafting.reply import definition_from_reply, parse_reply
from tools.errors import ExtractionError
from tools.model_parser.inventory import Component
from tools.model_parser.source_excerpt import source_excerpt


class DraftStep(BaseModel):
    """What one draft or repair call changed."""

    tasks: list[KernelTask]
    llm_stopped: str | None = None

    def state_update(self) -> dict:
        return {"tasks": self.tasks} | ({"llm_stopped": self.llm_stopped} if self.llm_stopped else {})


def draft_tasks(state: ExtractionState, context: AgentContext) -> DraftStep:
    waiting = [t for t in state.tasks if t.status == "needs_llm"]
    task = waiting[0]
    done = sum(1 for t in state.tasks if t.origin == "llm" and t.status != "needs_llm")
    brief = build_brief(task, state, context)
    context.progress.item("draft", done + 1, done + len(waiting), f"{_label(brief)}: attempt 1 of {context.max_llm_attempts}")
    return _exchange(state, context, task, brief, draft_messages(brief))


def repair_tasks(state: ExtractionState, context: AgentContext) -> DraftStep:
    task = next(t for t in state.tasks if is_repairable(t, context))
    brief = build_brief(task, state, context)
    check = task.checks[-1]
    attempt = task.attempts + 1
    context.progress.stage("repair", f"{task.name}: attempt {attempt} of {context.max_llm_attempts}, after: {check.summary}")
    messages = repair_messages(
        brief, task.last_reply or "", name=task.name, report=check.report or check.summary, attempt=task.attempts, max_attempts=context.max_llm_attempts
    )
    return _exchange(state, context, task, brief, messages)


def is_repairable(task: KernelTask, context: AgentContext) -> bool:
    return task.origin == "llm" and task.status == "failed" and 0 < task.attempts < context.max_llm_attempts


def _exchange(state: ExtractionState, context: AgentContext, task: KernelTask, brief: DraftBrief, messages: list[dict[str, str]]) -> DraftStep:
    """One LLM exchange for `task`: its updated copy, and whether the LLM stage must stop."""
    assert context.llm is not None
    stopped = None
    attempt = task.attempts + 1
    try:
        reply: StructuredReply[dict] = context.llm.structured(
            messages, parse=lambda text: definition_from_reply(parse_reply(text), brief), correction=malformed_reply_message
        )
    except MalformedReplyError as exc:
        report = "The reply could not be used:\n" + "\n".join(f"- {p}" for p in exc.problems)
        record = CheckRecord(attempt=attempt, passed=False, summary=f"unusable reply: {'; '.join(exc.problems[:2])}", report=report)
        updated = _failed(task, record, attempts=attempt, usage=exc.usage, last_reply=exc.raw)
        context.progress.warn(f"{_label(brief)}: {exc.message}")
    except (LLMUnavailableError, LLMRejectedError) as exc:
        if isinstance(exc, LLMRejectedError) and exc.about_this_request:
            # Asking again cannot help (the prompt is too long, say); the other kernels may still be drafted.
            record = CheckRecord(attempt=attempt, passed=False, summary=exc.message)
            updated = _failed(task, record, attempts=context.max_llm_attempts, usage=exc.usage, last_reply=task.last_reply)
            context.progress.warn(f"{_label(brief)}: {exc.message}; left out")
        else:
            stopped = f"LLM stage stopped: {exc.message}"
            updated = task.model_copy(update={"llm_usage": task.llm_usage + exc.usage, "note": f"{task.note}; {stopped}" if task.note else stopped})
            context.progress.warn(f"{stopped}; kernels not drafted yet stay pending")
    else:
        definition, usage = reply.value, reply.usage
        updated = task.model_copy(
            update={"status": "drafted", "attempts": attempt, "definition": definition, "last_reply": reply.raw, "llm_usage": task.llm_usage + usage}
        )
        context.progress.stage("draft", f"{_label(brief)} -> {definition['name']} ({usage.prompt_tokens} + {usage.completion_tokens} tokens)")
    tasks = [updated if t.id == task.id else t for t in state.tasks]
    budget = context.llm.settings.token_budget
    spent = sum(t.llm_usage.total_tokens for t in tasks)
    if stopped is None and budget is not None and spent >= budget:
        stopped = f"LLM stage stopped: token budget of {budget} spent ({spent} tokens)"
        context.progress.warn(stopped)
    return DraftStep(tasks=tasks, llm_stopped=stopped)


def _failed(task: KernelTask, record: CheckRecord, *, attempts: int, usage: TokenUsage, last_reply: str | None) -> KernelTask:
    return task.model_copy(
        update={"status": "failed", "attempts": attempts, "checks": task.checks + [record], "last_reply": last_reply, "llm_usage": task.llm_usage + usage}
    )


def build_brief(task: KernelTask, state: ExtractionState, context: AgentContext) -> DraftBrief:
    """The facts about `task`'s kernel that the drafting prompt states."""
    model, source = state.model, state.sglang
    assert model is not None and source is not None
    component = _component(task, state)
    pending = task.pending
    class_name = pending.class_name if pending else (component.class_name if component else task.spec.family)
    location = pending.location if pending else (str(component.location) if component and component.location else None)
    kind = pending.kind if pending else (component.kind if component else "unknown")
    excerpt = None
    if location:
        try:
            excerpt = source_excerpt(context.source_index(source), location, class_name).render()
        except (ValueError, ExtractionError) as exc:
            excerpt = f"# source not available: {exc}"
    stored = [d for _, d in DefinitionStore(Path(state.request.output_root)).index().values() if not d.get("unreadable")]
    built = [t.definition for t in state.tasks if t.origin == "template" and t.definition]
    example, origin = choose_example(stored, built, likely_op_types(kind, class_name, task.spec.family if task.spec else None))
    return DraftBrief(
        model_slug=model.slug,
        model_name=model.display_name,
        sglang_version=source.version,
        class_name=class_name,
        kind=kind,
        components=task.components,
        location=location,
        reason=task.note or "no template covers it",
        layers=sorted(set(pending.layers + [layer for p in task.same_kernel for layer in p.layers])) if pending else (task.spec.layers if task.spec else []),
        tp=task.tp or (task.spec.tp if task.spec and task.spec.tp else 1),
        ep=task.ep or (task.spec.ep if task.spec and task.spec.ep else 1),
        parameters=describe_parameters(component) if component else {},
        config=flatten_config(model.config),
        source=excerpt,
        target=target_from_spec(task.spec) if task.spec else None,
        example=example,
        example_origin=origin,
    )


def _component(task: KernelTask, state: ExtractionState) -> Component | None:
    """The inventory component behind a task (its parameters and location)."""
    path = task.pending.path if task.pending else (task.spec.components[0] if task.spec and task.spec.components else None)
    class_name = task.pending.class_name if task.pending else None
    for inventory in state.inventories:
        if task.tp is not None and (inventory.tp, inventory.ep) != (task.tp, task.ep):
            continue
        for component in inventory.components:
            if component.path == path and (class_name is None or component.class_name == class_name):
                return component
    return None


def _label(brief: DraftBrief) -> str:
    more = f" (+{len(brief.components) - 1} more)" if len(brief.components) > 1 else ""
    return f"{brief.class_name} at {brief.components[0] if brief.components else '?'}{more}"
