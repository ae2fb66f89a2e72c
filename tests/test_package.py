"""Importing byok_client: lazy SDK imports and the error that names the extra to install."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

CHECK = """
import sys
sys.modules[{module!r}] = None  # as if the SDK were not installed
import byok_client
try:
    byok_client.{name}
except byok_client.MissingDependencyError as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize(
    ("module", "name", "message"),
    [
        (
            "anthropic",
            "Anthropic",
            "'anthropic' is not installed; install it with: pip install 'byok-client[anthropic]'",
        ),
        ("openai", "AsyncOpenAI", "'openai' is not installed; install it with: pip install 'byok-client[openai]'"),
        ("google", "genai", "'google-genai' is not installed; install it with: pip install 'byok-client[google]'"),
    ],
)
def test_a_missing_sdk_names_the_extra(module: str, name: str, message: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(module=module, name=name)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"MissingDependencyError {message}"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def test_importing_byok_client_imports_no_sdk() -> None:
    code = (
        "import sys, byok_client; from byok_client import KeyPool, Key; "
        "print(sorted(m for m in ('openai', 'anthropic', 'google.genai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for name, module, others in (
        ("OpenAI", "openai", ("anthropic", "google.genai")),
        ("Anthropic", "anthropic", ("openai", "google.genai")),
        ("genai", "google.genai", ("openai", "anthropic")),
    ):
        if not _installed(module):
            continue  # (the SDK matrix installs one SDK per venv)
        code = f"import sys; from byok_client import {name}; print([m for m in {others!r} if m in sys.modules])"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "[]", name


ONLY_ONE = """
import importlib.metadata as metadata
import sys

hidden = {hidden!r}
real_version = metadata.version


def version(name):  # as if only one SDK were installed
    if name in hidden:
        raise metadata.PackageNotFoundError(name)
    return real_version(name)


metadata.version = version
for module in {modules!r}:
    sys.modules[module] = None
from byok_client import *  # noqa: F403
import pydoc

import byok_client

text = pydoc.plain(pydoc.render_doc(byok_client))
print(sorted(n for n in ("OpenAI", "AsyncOpenAI", "Anthropic", "AsyncAnthropic", "genai") if n in globals()))
print("KeyPool" in text, "attempts_of" in text)
"""
SDK_NAMES = {
    "openai": ("openai", ["AsyncOpenAI", "OpenAI"]),
    "anthropic": ("anthropic", ["Anthropic", "AsyncAnthropic"]),
    "google-genai": ("google.genai", ["genai"]),
}


@pytest.mark.parametrize("only", list(SDK_NAMES))
def test_star_import_and_help_work_with_any_one_sdk_installed(only: str) -> None:
    import importlib.metadata

    try:
        importlib.metadata.version(only)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{only} is not installed")
    others = [d for d in SDK_NAMES if d != only]
    code = ONLY_ONE.format(hidden=others, modules=[SDK_NAMES[d][0] for d in others])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    names, helped = out.stdout.strip().splitlines()
    assert names == str(SDK_NAMES[only][1])
    assert helped == "True True"


def test_an_sdk_of_an_unsupported_release_is_one_clear_error() -> None:
    code = (
        "import importlib.metadata as m; real = m.version\n"
        "m.version = lambda name: '1.50.0' if name == 'openai' else real(name)\n"
        "import byok_client\n"
        "assert 'OpenAI' not in byok_client.__all__\n"
        "from byok_client import *\n"
        "try:\n    byok_client.OpenAI\nexcept byok_client.UnsupportedSDKVersionError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "openai 1.50.0 is installed, but byok_client supports openai 1.x (>= 1.108.1), 2.x (>= 2.0.0), "
        "3.x (>= 3.0.0); upgrade it with: pip install -U 'byok-client[openai]'"
    )
