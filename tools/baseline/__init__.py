"""SGLang's baseline implementation of a model's kernels, documented from its sources.

For a resolved model and its inventories (one per TP/EP profile), the package works out
which SGLang code path each kernel goes through (layer class -> backend entry point ->
the FlashInfer/sgl-kernel call), cites every step as file:line found by parsing
SGLang with libcst, and pairs each kernel with the FlashInfer-Trace definition name
`agent extract` writes for it (by calling the real planner and builder):

    routes.py             which code path each kind of kernel takes (data, checked at run time)
    entry_points.py       finds those steps in the SGLang sources: definitions and call sites
    kernel_map.py         inventory -> kernels with their definition names (planner + builder)
    structure.py          the forward-pass structure: embedding, decoder stack, final norm, head
    snippets.py           the quoted source sections, one file per component
    documented_format.py  the format flashinfer-bench documents for the two files (pydantic)
    documented_view.py    the documented fields, computed from what the analysis found
    schema.py             the output documents: the documented fields, then the rest (pydantic)
    analysis.py           puts it together and writes the files
"""
