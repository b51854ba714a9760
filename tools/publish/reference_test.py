"""PLACEHOLDER: replaced by the generated reference test."""


def generate_reference_test(definition: dict) -> str:
    from tools.verification.bindings import binding_for

    if binding_for(definition) is None:
        raise ValueError("no FlashInfer binding: no reference test can be generated")
    return f"# reference test for {definition['name']}\n"
