"""Builds the kapokmq package: pure Python (ctypes) plus the native library
libkapokmq, which the package loads at run time.

The library has no Python bindings, so the wheel is tagged for any Python 3
and no Python ABI (``py3-none-<platform>``) and installs on every Python
version of its platform. The library is:

- ``$KAPOKMQ_PREBUILT_LIB`` when set, under its own file name (``make dist``
  passes each platform's build, stripped; ``$KAPOKMQ_WHEEL_PLAT`` then names
  the platform tag, such as ``manylinux_2_17_x86_64.manylinux2014_x86_64``,
  ``musllinux_1_2_aarch64`` or ``win_amd64``), or
- built with cargo from the crate: ``crate/`` inside an sdist (the sdist
  carries the sources it needs), or the repository root in a checkout.
  ``$CARGO_TARGET_DIR`` is honoured, so a checkout can reuse its build.

A library built here is stripped of debug info in the package.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

from setuptools.command.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
LIB_FILE = {"darwin": "libkapokmq.dylib", "win32": "kapokmq.dll"}.get(sys.platform, "libkapokmq.so")
# What cargo needs to build the library crate, relative to its root.
CRATE_FILES = ("Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml")
CRATE_DIRS = ("src", "include")
BUNDLED_CRATE = "crate"


def crate_dir() -> Path:
    """The library crate: the copy an sdist carries, else the checkout's."""
    for candidate in (HERE / BUNDLED_CRATE, HERE.parent.parent):
        if (candidate / "Cargo.toml").is_file() and (candidate / "src" / "lib.rs").is_file():
            return candidate
    raise SystemExit(
        f"kapokmq: no library sources: expected {HERE / BUNDLED_CRATE} (an sdist) "
        f"or a kapokmq checkout around {HERE}"
    )


def build_library() -> Path:
    """Builds the library with cargo and returns its path."""
    crate = crate_dir()
    cargo = os.environ.get("CARGO", "cargo")
    if shutil.which(cargo) is None:
        raise SystemExit(
            "kapokmq: building the native library needs Rust's cargo on the PATH "
            "(https://rustup.rs), or KAPOKMQ_PREBUILT_LIB naming a built libkapokmq"
        )
    target = Path(os.environ.get("CARGO_TARGET_DIR") or crate / "target")
    cmd = [cargo, "build", "--release", "--lib", "-p", "kapokmq", "--manifest-path", str(crate / "Cargo.toml")]
    print("kapokmq:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    return target / "release" / LIB_FILE


def strip_debug_info(path: Path) -> None:
    """Debug info is most of a release build and no use in a package."""
    if not sys.platform.startswith("linux"):
        return
    strip = os.environ.get("STRIP", "strip")
    if shutil.which(strip) is None:
        print(f"kapokmq: warning: {strip} not found; {path.name} keeps its debug info", flush=True)
        return
    subprocess.run([strip, "--strip-debug", str(path)], check=True)


class build_py_with_library(build_py):
    """Puts the native library inside the package."""

    def run(self) -> None:
        super().run()
        prebuilt = os.environ.get("KAPOKMQ_PREBUILT_LIB")
        source = Path(prebuilt) if prebuilt else build_library()
        if not source.is_file():
            raise SystemExit(f"kapokmq: no library at {source}")
        # A prebuilt library keeps its own name: `make dist` passes other
        # platforms' libraries too (kapokmq.dll for win_amd64).
        target = Path(self.build_lib) / "kapokmq" / (source.name if prebuilt else LIB_FILE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        os.chmod(target, 0o755)
        if not prebuilt:  # `make dist` strips with the target's own strip
            strip_debug_info(target)


class NativeDistribution(Distribution):
    """The package holds native code: a platform wheel, installed in platlib."""

    def has_ext_modules(self) -> bool:
        return True


class platform_wheel(bdist_wheel):
    """A platform wheel for any Python 3: the library is loaded with ctypes
    and uses no Python ABI."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", os.environ.get("KAPOKMQ_WHEEL_PLAT") or platform


class sdist_with_crate(sdist):
    """An sdist that builds on its own: it carries the library crate."""

    def make_release_tree(self, base_dir, files) -> None:
        super().make_release_tree(base_dir, files)
        source = crate_dir()
        target = Path(base_dir) / BUNDLED_CRATE
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for name in CRATE_FILES:
            shutil.copyfile(source / name, target / name)
        for name in CRATE_DIRS:
            shutil.copytree(source / name, target / name)
        # The repository's workspace also lists the broker, the CLI and the
        # test kit, which the sdist does not carry: the crate is a workspace
        # of its own, without its tests (their kit and their targets).
        manifest = target / "Cargo.toml"
        text = re.sub(r"(?m)^members\s*=\s*\[[^\]]*\]\n?", "", manifest.read_text())
        text = re.sub(r"(?ms)^(\[dev-dependencies\]|\[\[test\]\])\n.*?(?=^\[|\Z)", "", text)
        manifest.write_text(text)


setup(
    distclass=NativeDistribution,
    cmdclass={
        "build_py": build_py_with_library,
        "bdist_wheel": platform_wheel,
        "sdist": sdist_with_crate,
    }
)
