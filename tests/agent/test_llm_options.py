"""`agent extract`'s LLM and resume options: bad combinations exit 2 before any work."""

import pytest

from agent import exit_codes
from agent.cli import main


def run(tmp_path, *args):
    return main(["extract", "--model-name", "llama", "--output", str(tmp_path / "ds"), "--quiet", *args])


def test_a_base_url_without_a_model_is_bad_input(tmp_path, capsys):
    assert run(tmp_path, "--llm-base-url", "http://localhost:8000/v1") == exit_codes.BAD_INPUT
    err = capsys.readouterr().err
    assert "--llm-base-url needs --llm-model" in err and "hint:" in err
    assert not (tmp_path / "ds").exists()


def test_openai_without_a_key_is_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert run(tmp_path, "--llm-model", "gpt-4.1") == exit_codes.BAD_INPUT
    assert "OPENAI_API_KEY is not set" in capsys.readouterr().err


def test_resume_with_dry_run_is_bad_input(tmp_path, capsys):
    assert run(tmp_path, "--dry-run", "--resume") == exit_codes.BAD_INPUT
    assert "--resume continues a run that writes" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--llm-max-attempts", "0"), ("--llm-timeout", "-1"), ("--verify-timeout", "abc")])
def test_out_of_range_limits_are_refused_by_the_parser(tmp_path, flag, value):
    with pytest.raises(SystemExit) as exit_info:
        run(tmp_path, "--llm-model", "m", "--llm-base-url", "http://x/v1", flag, value)
    assert exit_info.value.code == 2


def test_help_documents_llm_drafting_and_resume(capsys):
    with pytest.raises(SystemExit):
        main(["extract", "--help"])
    out = capsys.readouterr().out
    for flag in ("--llm-model", "--llm-base-url", "--llm-max-attempts", "--llm-timeout", "--llm-price-input", "--llm-token-budget", "--resume", "--verify-timeout"):
        assert flag in out
    assert "OPENAI_API_KEY" in out and "checkpoints.sqlite" in out
