"""Finds SGLang's Python sources (never importing them) and records which version they are.

Three places are tried in order: an explicit path (a git checkout, an unpacked wheel, or
the package directory itself), an installed `sglang` distribution, and finally the
`sglang` wheel from the package index, unpacked into a user cache. Only the `.py` files
under `sglang/srt/` are unpacked: that is all the parser reads.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from tools.errors import SourceNotFoundError

# The SGLang release the project's parser and tests are checked against. Newer releases
# usually work; `--sglang-version latest` asks the index for the newest one.
DEFAULT_SGLANG_VERSION = "0.5.23"

_WHEEL_PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")


class SglangSource(BaseModel):
    """Where SGLang's sources are and which release they belong to."""

    root: Path
    """Directory that contains the `sglang` package directory."""
    version: str
    """SGLang release, e.g. `0.5.23`; `unknown` when the sources do not say."""
    origin: Literal["path", "installed", "download"]
    """How the sources were found."""

    @property
    def package_dir(self) -> Path:
        return self.root / "sglang"

    @property
    def models_dir(self) -> Path:
        return self.root / "sglang" / "srt" / "models"

    def module_path(self, dotted: str) -> Path | None:
        """File of a module such as `sglang.srt.models.llama`, or None if absent."""
        base = self.root.joinpath(*dotted.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def relative(self, path: Path) -> str:
        """A path inside the package, such as `sglang/srt/models/llama.py`."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path.as_posix()


def default_cache_dir() -> Path:
    env = os.environ.get("FLASHINFER_TRACE_AGENT_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "flashinfer-trace-agent"


def locate_sglang(
    sglang_path: Path | None = None,
    *,
    version: str | None = None,
    cache_dir: Path | None = None,
    allow_download: bool = True,
    use_installed: bool = True,
) -> SglangSource:
    """Return SGLang sources: from `sglang_path`, an installed package, or a download."""
    if sglang_path is not None:
        return _from_path(Path(sglang_path))
    if use_installed and version is None:
        installed = _from_installed()
        if installed is not None:
            return installed
    wanted = version or DEFAULT_SGLANG_VERSION
    cache = (cache_dir or default_cache_dir()) / "sglang"
    cached = _from_cache(cache, wanted)
    if cached is not None:
        return cached
    if not allow_download:
        raise SourceNotFoundError(
            f"No SGLang {wanted} sources in the cache ({cache}) and downloading is disabled.",
            hint="Pass --sglang-path to a SGLang checkout or unpacked wheel, or allow the download.",
        )
    return _download(cache, wanted)


def _from_path(path: Path) -> SglangSource:
    if not path.exists():
        raise SourceNotFoundError(
            f"--sglang-path {path} does not exist.",
            hint="Point it at a SGLang git checkout, an unpacked sglang wheel, or the sglang package directory.",
        )
    path = path.resolve()
    # Accept the checkout root, its python/ dir, the package parent, the package, srt/, or models/.
    candidates = [path / "python", path, path.parent, path.parent.parent, path.parent.parent.parent]
    for root in candidates:
        if (root / "sglang" / "srt" / "models").is_dir():
            return SglangSource(root=root, version=_version_in_tree(root), origin="path")
    raise SourceNotFoundError(
        f"No sglang/srt/models/ found at or around {path}.",
        hint="Point --sglang-path at a SGLang checkout (it has python/sglang/srt/models/) or an unpacked wheel.",
    )


def _from_installed() -> SglangSource | None:
    # find_spec on a top-level package locates it without executing its __init__.
    spec = importlib.util.find_spec("sglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    if not (package_dir / "srt" / "models").is_dir():
        return None
    try:
        version = importlib.metadata.version("sglang")
    except importlib.metadata.PackageNotFoundError:
        version = _version_in_tree(package_dir.parent)
    return SglangSource(root=package_dir.parent, version=version, origin="installed")


def _from_cache(cache: Path, version: str) -> SglangSource | None:
    if version == "latest":
        return None
    root = cache / version
    if (root / ".complete").is_file() and (root / "sglang" / "srt" / "models").is_dir():
        return SglangSource(root=root, version=version, origin="download")
    return None


def _download(cache: Path, version: str) -> SglangSource:
    requirement = "sglang" if version == "latest" else f"sglang=={version}"
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        wheel = _pip_download_wheel(requirement, Path(tmp))
        found_version = _version_from_wheel_name(wheel.name) or version
        final = cache / found_version
        if _from_cache(cache, found_version) is not None:
            return SglangSource(root=final, version=found_version, origin="download")
        staging = Path(tmp) / "unpacked"
        _unpack_sources(wheel, staging)
        (staging / ".complete").write_text(found_version + "\n")
        if final.exists():
            shutil.rmtree(final)
        # A rename within one filesystem: a crash leaves either nothing or a whole tree.
        staging.rename(final)
    return SglangSource(root=final, version=found_version, origin="download")


def _pip_download_wheel(requirement: str, dest: Path) -> Path:
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest)]
    attempts = [base + [requirement]]
    # The wheels are platform-tagged but their Python sources are identical, so any
    # platform's wheel will do when none matches this machine (macOS, other Pythons).
    platform_args: list[str] = ["--python-version", "3.12", "--implementation", "cp"]
    for plat in _WHEEL_PLATFORMS:
        platform_args += ["--platform", plat]
    attempts.append(base + platform_args + [requirement])
    errors = []
    for command in attempts:
        result = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(dest.glob("sglang-*.whl"))
        if result.returncode == 0 and wheels:
            return wheels[0]
        errors.append(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}")
    raise SourceNotFoundError(
        f"Could not download {requirement} from the package index: {errors[-1]}",
        hint="Check network access to the package index, or pass --sglang-path to a local SGLang checkout.",
    )


def _unpack_sources(wheel: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if _wanted_member(name):
                archive.extract(name, dest)


def _wanted_member(name: str) -> bool:
    if name.startswith("sglang/srt/") and name.endswith(".py"):
        return True
    return name in {"sglang/__init__.py", "sglang/version.py", "sglang/_version.py", "sglang/utils.py"}


def _version_from_wheel_name(name: str) -> str | None:
    match = re.match(r"sglang-([^-]+)-", name)
    return match.group(1) if match else None


_VERSION_ASSIGN = re.compile(r"""^(?:__version__|version)\s*[:=]\s*(?:str\s*=\s*)?["']([^"']+)["']""", re.M)


def _version_in_tree(root: Path) -> str:
    """Best-effort version of sources at `root` (the dir holding `sglang/`)."""
    for candidate in (root / "sglang" / "_version.py", root / "sglang" / "version.py", root / "pyproject.toml"):
        if candidate.is_file():
            match = _VERSION_ASSIGN.search(candidate.read_text(errors="replace"))
            if match:
                return match.group(1)
    for meta in root.glob("sglang-*.dist-info/METADATA"):
        match = re.search(r"^Version:\s*(\S+)", meta.read_text(errors="replace"), re.M)
        if match:
            return match.group(1)
    return "unknown"
