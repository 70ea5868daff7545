"""Hatch build hook: the optional compiled build of squall-http.

``SQUALL_COMPILE=1 pip install ./packages/http`` compiles the modules of the
request path (the ``compile`` list under ``[tool.hatch.build.targets.wheel.
hooks.custom]`` in pyproject.toml) to C extensions with mypyc, from the same
Python source; the wheel then holds both, and Python imports the compiled
modules.  Without the variable (the default) the wheel is pure Python and
this hook does nothing.  Editable installs are never compiled.

The build needs a C compiler and the Python headers; mypy and setuptools are
added to the build environment only when the variable is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# The mypy options of the compile step.  Outside the project checkout the
# sibling packages' types are unknown and count as Any.
_MYPY_ARGS = [
    "--explicit-package-bases",
    "--namespace-packages",
    "--ignore-missing-imports",
    "--python-version",
    f"{sys.version_info.major}.{sys.version_info.minor}",
]

# The packages squall-http depends on, found beside it in the project.
_SIBLINGS = ("ioloop", "iostream")

_SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="squall_compiled",
    ext_modules=mypycify(sys.argv[3:], opt_level="3"),
    script_args=["build_ext", "--build-lib", sys.argv[1], "--build-temp", sys.argv[2]],
)
"""


def compile_requested() -> bool:
    """Whether ``SQUALL_COMPILE`` asks for the compiled build."""
    return os.environ.get("SQUALL_COMPILE", "").strip().lower() not in ("", "0", "false", "no")


class CompiledBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compile the listed modules with mypyc when ``SQUALL_COMPILE`` is set."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        """Add mypy and setuptools to the build environment when compiling."""
        if self.target_name == "wheel" and compile_requested():
            return ["mypy>=1.11", "setuptools>=61"]
        return []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile the listed modules and add the extensions to the wheel."""
        if self.target_name != "wheel" or version != "standard" or not compile_requested():
            return
        source_root = Path(self.root) / "src"
        modules = [str(Path(path).relative_to("src")) for path in self.config.get("compile", [])]
        if not modules:
            return
        self._work = tempfile.mkdtemp(prefix="squall-mypyc-")
        out = os.path.join(self._work, "lib")
        temp = os.path.join(self._work, "temp")
        # The sibling packages' sources (a checkout of the whole project)
        # give mypy their types; they are analysed, not compiled.
        siblings = [Path(self.root).parent / name / "src" for name in _SIBLINGS]
        env = dict(os.environ)
        env["MYPYPATH"] = os.pathsep.join(str(path) for path in siblings if path.is_dir())
        result = subprocess.run(
            [sys.executable, "-c", _SETUP, out, temp, *_MYPY_ARGS, *modules],
            check=False,
            cwd=source_root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if result.returncode:
            raise RuntimeError(f"SQUALL_COMPILE: mypyc failed:\n{result.stdout}")
        built = sorted(Path(out).rglob("*.so")) + sorted(Path(out).rglob("*.pyd"))
        if not built:
            raise RuntimeError(f"SQUALL_COMPILE: mypyc produced no extension:\n{result.stdout}")
        for path in built:
            build_data["force_include"][str(path)] = str(path.relative_to(out))
        build_data["infer_tag"] = True
        build_data["pure_python"] = False

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the compile step's working directory."""
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
