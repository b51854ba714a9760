import shutil
from pathlib import Path

import pytest

from tools.errors import SourceNotFoundError
from tools.source_locator import DEFAULT_SGLANG_VERSION, locate_sglang


def _copy_models(src_root: Path, dest_package_parent: Path) -> None:
    models = dest_package_parent / "sglang" / "srt" / "models"
    models.parent.mkdir(parents=True)
    shutil.copytree(src_root / "sglang" / "srt" / "models", models)


def test_download_records_the_release_and_is_reused_from_the_cache(sglang_source):
    assert sglang_source.version == DEFAULT_SGLANG_VERSION
    assert sglang_source.origin == "download"
    assert (sglang_source.models_dir / "llama.py").is_file()
    # The cached copy is found again without any download.
    again = locate_sglang(version=DEFAULT_SGLANG_VERSION, use_installed=False, allow_download=False)
    assert again.root == sglang_source.root


@pytest.mark.parametrize("layout", ["checkout", "unpacked-wheel", "package-dir", "models-dir"])
def test_sglang_path_accepts_each_layout(tmp_path, sglang_source, layout):
    if layout == "checkout":
        parent = tmp_path / "sglang-repo" / "python"
        _copy_models(sglang_source.root, parent)
        (tmp_path / "sglang-repo" / "python" / "pyproject.toml").write_text('[project]\nname = "sglang"\nversion = "9.9.9"\n')
        given, expected_version = tmp_path / "sglang-repo", "9.9.9"
    else:
        parent = tmp_path / "unpacked"
        _copy_models(sglang_source.root, parent)
        (parent / "sglang" / "version.py").write_text('__version__ = "1.2.3"\n')
        given = {"unpacked-wheel": parent, "package-dir": parent / "sglang", "models-dir": parent / "sglang" / "srt" / "models"}[layout]
        expected_version = "1.2.3"
    found = locate_sglang(given)
    assert found.origin == "path"
    assert found.models_dir.is_dir()
    assert found.version == expected_version


def test_missing_path_says_how_to_provide_sources(tmp_path):
    with pytest.raises(SourceNotFoundError) as info:
        locate_sglang(tmp_path / "nope")
    assert "does not exist" in info.value.message
    assert "--sglang-path" in info.value.hint or "checkout" in info.value.hint


def test_a_directory_without_models_is_rejected(tmp_path):
    with pytest.raises(SourceNotFoundError) as info:
        locate_sglang(tmp_path)
    assert "sglang/srt/models" in info.value.message


def test_no_download_and_empty_cache_fails_with_a_hint(tmp_path):
    with pytest.raises(SourceNotFoundError) as info:
        locate_sglang(version="0.0.1", cache_dir=tmp_path, use_installed=False, allow_download=False)
    assert info.value.hint and "--sglang-path" in info.value.hint
