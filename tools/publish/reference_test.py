"""`tests/references/test_{name}.py`: a standalone pytest that checks a definition's
reference against FlashInfer, the way the agent's verifier does.

The generated file loads the definition from the dataset it sits in (the dataset root is
`parents[2]` of the file), runs its reference and the FlashInfer binding (the binding's
kernel module, embedded verbatim: the same code as the baseline solution) on inputs from
the verifier's own case generators, and asserts with the verifier's tolerances (or, for
samplers, its statistical criteria). It skips without a CUDA GPU or FlashInfer. The
generators and the comparison are inlined by `source_bundler.py`, so the file imports
nothing of this project. Template: `templates/reference_test.py.tmpl`.
"""

from __future__ import annotations

import pkgutil
import pprint
import subprocess
from pathlib import Path
from string import Template
from typing import Any

from tools.publish.source_bundler import PROJECT_ROOT, bundle_modules

TEMPLATE = Path(__file__).parent / "templates" / "reference_test.py.tmpl"
SEED = 0


def generate_reference_test(definition: dict[str, Any], *, agent_commit: str | None = None) -> str:
    """The test's source; raises ValueError when the definition has no FlashInfer binding."""
    from tools.verification.bindings import binding_for, fi_api_of
    from tools.verification.families import family_for
    from tools.verification.inputs import default_cases

    binding = binding_for(definition)
    if binding is None:
        raise ValueError(f"no FlashInfer binding for {fi_api_of(definition) or 'a definition without an fi_api tag'}: no reference test can be generated")
    family = family_for(definition)
    modules = ["tools.verification.inputs", "tools.verification.compare", "tools.verification.criteria", "tools.verification.families"]
    family_module = _declaring_module(family)
    if family_module:
        modules.append(family_module)
    if family.sampling is not None:
        modules.append("tools.verification.sampling_stats")
    package, sources = bundle_modules(modules)
    cases = [case.model_dump(exclude_defaults=True) | {"label": case.label} for case in default_cases(definition, "verify")]
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        name=definition["name"],
        op_type=definition["op_type"],
        fi_api=binding.fi_api,
        agent_commit=agent_commit or _agent_commit(),
        sampling_note=", and samplers are judged by the tokens they may draw and how often they draw them" if family.sampling else "",
        seed=SEED,
        tolerance=pprint.pformat(family.tolerance_for(definition).model_dump(), sort_dicts=False),
        sampling=pprint.pformat(family.sampling.model_dump(), sort_dicts=False) if family.sampling else "None",
        cases=pprint.pformat(cases, sort_dicts=False, width=110),
        baseline_source=_string_literal(binding.source()),
        bundle_package=package,
        bundled_sources="".join(f"    {relative!r}: {_string_literal(source)},\n" for relative, source in sources.items()),
    )


def _declaring_module(family) -> str | None:
    """The `tools.verification.families.*` module whose FAMILIES list declares `family`."""
    import importlib

    import tools.verification.families as families

    for info in pkgutil.iter_modules(families.__path__):
        module = importlib.import_module(f"{families.__name__}.{info.name}")
        if any(f is family for f in getattr(module, "FAMILIES", ())):
            return module.__name__
    return None  # the generic fallback lives in the package itself


def _string_literal(source: str) -> str:
    """A readable triple-quoted literal of `source` (repr when it cannot be one)."""
    if '"""' not in source and "\\" not in source and not source.endswith('"'):
        return '"""' + source + '"""'
    return repr(source)


def _agent_commit() -> str:
    result = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "unknown"
