"""Prompt templates render strictly: a missing or unused variable is an error, not a hole."""

import pytest

from agent import prompts
from agent.prompts import PromptTemplateError, draft_messages, render, repair_messages
from tools.drafting.brief import DraftBrief, DraftTarget


def test_a_missing_variable_fails_loudly():
    with pytest.raises(PromptTemplateError, match=r"no value for \['attempt'"):
        render("repair_reference", name="k", report="r", max_attempts=3)


def test_an_unused_variable_fails_loudly():
    with pytest.raises(PromptTemplateError, match=r"no placeholder for \['typo'\]"):
        render("malformed_reply", problems="- x", typo="y")


def test_every_template_renders_with_its_own_variables():
    import string

    for path in sorted(prompts.PROMPTS_DIR.glob("*.md")):
        names = string.Template(path.read_text()).get_identifiers()
        text = render(path.stem, **{n: f"<{n}>" for n in names})
        assert "${" not in text and all(f"<{n}>" in text for n in names)


def brief(**overrides):
    return DraftBrief(
        **{
            "model_slug": "tiny", "model_name": "Tiny", "sglang_version": "0.5.23", "class_name": "Gemma3RMSNorm", "kind": "norm.gemma_rmsnorm",
            "components": ["model.norm", "model.layers.*.input_layernorm"], "location": "sglang/srt/models/gemma3_causal.py:615-615",
            "reason": "no rule", "layers": [0, 1, 2, 3], "parameters": {"dim": "256 (from config.hidden_size)"}, "config": {"hidden_size": 256},
            "source": "  615  self.norm = Gemma3RMSNorm(config.hidden_size)", **overrides,
        }
    )


def test_the_draft_prompt_carries_source_parameters_config_and_the_open_target():
    system, user = draft_messages(brief())
    assert system["role"] == "system" and "def run(" in system["content"]
    text = user["content"]
    assert "- class: `Gemma3RMSNorm`" in text and "gemma3_causal.py:615-615" in text
    assert "- dim: 256 (from config.hidden_size)" in text and "- hidden_size: 256" in text
    assert "self.norm = Gemma3RMSNorm" in text
    assert "decoder layers: 0-3" in text
    assert "No kernel family is known" in text
    assert "## Example" not in text  # none given


def test_a_known_family_pins_the_axes_and_an_example_is_quoted():
    target = DraftTarget(family="mla_paged_decode", const_axes={"num_heads": 16, "page_size": 1}, stage="decode")
    user = draft_messages(brief(target=target, example={"name": "gemm_n8_k8"}, example_origin="built from a template"))[1]["content"]
    assert "family `mla_paged_decode`" in user and "- num_heads: 16" in user and "stage=decode" in user
    assert "An example Definition (built from a template)" in user and '"name": "gemm_n8_k8"' in user


def test_a_repair_quotes_the_failed_reply_and_the_report():
    messages = repair_messages(brief(), '{"name": "x"}', name="x", report="case 'one row': failed", attempt=1, max_attempts=3)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == '{"name": "x"}'
    assert "attempt 1 of 3" in messages[3]["content"] and "case 'one row': failed" in messages[3]["content"]
