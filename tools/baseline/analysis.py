"""A model's SGLang baseline: its implementation, its kernel calls, and the quoted sources.

`profile_inventories` parses the model at each TP/EP size of its profile (as `agent
extract` does); `analyse_baseline` turns the inventories into the two documents and the
snippets; `write_baseline` writes them under `<output>/<model slug>/`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel

from tools.baseline.documented_view import code_location, forward_pass_structure, implementation_calls, kernel_name, repository_path
from tools.baseline.entry_points import EntryPointLocator, span_of
from tools.baseline.kernel_map import ComponentKernel, DefinitionNames, component_kernels
from tools.baseline.routes import LAYER, ROUTES, Step, route_names
from tools.baseline.schema import (
    BaselineRoute,
    DocumentedProfile,
    KernelCall,
    ProfileImplementation,
    SglangImplementation,
)
from tools.baseline.snippets import render_snippet, snippet_filename
from tools.baseline.structure import constructor_calls, forward_pass
from tools.dedup_store import write_json_atomic
from tools.definition_builder.builder import BuildContext
from tools.errors import OutputError
from tools.kernel_planner import PlanOptions
from tools.model_parser.interpreter import ModelInterpreter
from tools.model_parser.profiles import parse_profiles
from tools.model_parser.inventory import Component, Inventory
from tools.model_parser.runtime import ParallelProfile
from tools.model_parser.source_index import SourceIndex
from tools.model_registry.resolver import ResolvedModel

IMPLEMENTATION_FILE = "sglang_implementation.json"
KERNEL_CALLS_FILE = "kernel_calls.json"
SNIPPETS_DIR = "code_snippets"

_LAYER_CLASS = Step("the component's own class", LAYER)


class BaselineAnalysis(BaseModel):
    slug: str
    implementation: SglangImplementation
    kernel_calls: list[KernelCall]
    """The entries of `kernel_calls.json`, every profile's in turn."""
    snippets: dict[str, str]
    """File name under `code_snippets/` -> its text."""


def profile_inventories(index: SourceIndex, model: ResolvedModel) -> list[Inventory]:
    """The model's inventory at each TP/EP size of its profile, by extract's rules."""
    return parse_profiles(index, model).inventories


def analyse_baseline(model: ResolvedModel, index: SourceIndex, inventories: list[Inventory]) -> BaselineAnalysis:
    version = index.source.version
    quant_method = (model.config.get("quantization_config") or {}).get("quant_method")
    first = inventories[0]
    locator = EntryPointLocator(index, ModelInterpreter(index, model.config, ParallelProfile(tp=first.tp, ep=first.ep)))
    names = DefinitionNames(BuildContext(model_slug=model.slug))
    options = PlanOptions(page_sizes=model.profile.page_sizes)
    calls: list[KernelCall] = []
    profiles: list[ProfileImplementation] = []
    documented: list[DocumentedProfile] = []
    # Snippets are per component (the same across profiles), with every route it takes.
    components: dict[tuple, Component] = {}
    files: dict[tuple, str] = {}
    routes: dict[tuple, dict[str, BaselineRoute]] = {}
    taken: set[str] = set()
    for inventory in inventories:
        kernels = component_kernels(inventory, options, names)
        made: list[tuple[KernelCall, Component]] = []
        for kernel in kernels:
            key = (kernel.component.path, kernel.component.class_name, str(kernel.component.location))
            if key not in components:
                components[key] = kernel.component
                files[key] = snippet_filename(kernel.component, taken)
            for call in _kernel_calls(kernel, inventory, quant_method, locator):
                if call.baseline is not None:
                    routes.setdefault(key, {}).setdefault(call.baseline.name, call.baseline)
                call.snippet = f"{SNIPPETS_DIR}/{files[key]}"
                made.append((call, kernel.component))
        calls += [call for call, _ in made]
        forward = forward_pass(inventory, kernels)
        profiles.append(
            ProfileImplementation(
                tp=inventory.tp,
                ep=inventory.ep,
                forward_pass=forward,
                kernel_calls_found=constructor_calls(inventory),
                unknown=inventory.unknown,
                diagnostics=inventory.diagnostics,
            )
        )
        documented.append(
            DocumentedProfile(
                tp=inventory.tp,
                ep=inventory.ep,
                forward_pass_structure=forward_pass_structure(forward, made),
                kernel_calls=implementation_calls(made, model.model_class.file),
            )
        )
    snippets = {
        files[key]: render_snippet(component, list(routes.get(key, {}).values()), index, locator, model=model.slug)
        for key, component in components.items()
    }
    entry = locator.definition(model.model_class.module, model.architecture)
    head, *others = documented
    implementation = SglangImplementation(
        model_name=model.slug,
        model_file=repository_path(model.model_class.file),
        class_name=model.architecture,
        forward_pass_structure=head.forward_pass_structure,
        kernel_calls=head.kernel_calls,
        tp=head.tp,
        ep=head.ep,
        other_profiles=others,
        display_name=model.display_name,
        hf_repo_id=model.hf_repo_id,
        architecture=model.architecture,
        class_location=span_of(*entry) if entry else None,
        sglang_version=version,
        config_source=model.config_source,
        chosen_because=model.chosen_because,
        quantization=quant_method,
        profiles=profiles,
    )
    return BaselineAnalysis(slug=model.slug, implementation=implementation, kernel_calls=calls, snippets=snippets)


def _kernel_calls(kernel: ComponentKernel, inventory: Inventory, quant_method: str | None, locator: EntryPointLocator) -> list[KernelCall]:
    component, spec = kernel.component, kernel.spec
    base = dict(
        module=component.path,
        flashinfer_equivalent=kernel.definition_name,
        code_location=code_location(component.location),
        layers=component.layers,
        component_kind=component.kind,
        layer_class=component.class_name,
        owner_class=component.owner_class,
        tp=inventory.tp,
        ep=inventory.ep,
        stage=spec.stage if spec else None,
        kernel_family=spec.family if spec else None,
        equivalent_status=kernel.status,
        reason=kernel.reason,
        constructed_at=component.location,
    )
    own_class = locator.dotted_name(_LAYER_CLASS, component)
    wanted = route_names(component, spec, quant_method)
    known = [ROUTES[name] for name in wanted if name in ROUTES]
    if not known:
        missing = ", ".join(wanted) or f"layer kind {component.kind}"
        return [KernelCall(**base, kernel=None, baseline_impl=own_class, baseline_note=f"no baseline route is documented for {missing}")]
    calls = []
    for route in known:
        baseline = locator.route(route, component)
        calls.append(
            KernelCall(
                **base,
                kernel=kernel_name(route, baseline),
                # A factory building several classes has no one class to name: the factory itself.
                baseline_impl=locator.dotted_name(route.steps[route.implementation_step], component) or own_class,
                baseline=baseline,
                kernel_location=_innermost(baseline),
            )
        )
    return calls


def _innermost(route: BaselineRoute) -> str | None:
    """Where the code calls into the kernel: the last step's call; None unless all steps were found."""
    if not route.complete:
        return None
    last = route.entry_points[-1]
    span = last.call.location if last.call is not None else last.location
    return str(span) if span is not None else None


def write_baseline(analysis: BaselineAnalysis, output_dir: Path) -> Path:
    """Write the documents and snippets under `output_dir/<slug>/`; returns that directory.

    The snippets directory is replaced as a whole, so files of components a model no
    longer has do not linger from an earlier run."""
    target = Path(output_dir) / analysis.slug
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target, prefix=f".{SNIPPETS_DIR}."))
    except OSError as exc:
        raise OutputError(f"Cannot write to {target}: {exc.strerror}.", hint="Pass --output-dir a directory you can write to.") from exc
    try:
        for name, text in analysis.snippets.items():
            (staging / name).write_text(text, encoding="utf-8")
        snippets = target / SNIPPETS_DIR
        if snippets.exists():
            shutil.rmtree(snippets)
        staging.rename(snippets)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_json_atomic(target / IMPLEMENTATION_FILE, analysis.implementation.model_dump(mode="json"))
    write_json_atomic(target / KERNEL_CALLS_FILE, [call.model_dump(mode="json") for call in analysis.kernel_calls])
    return target
