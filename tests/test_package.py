"""Importing byok_client: lazy SDK imports and the error that names the extra to install."""

from __future__ import annotations

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


def test_importing_byok_client_imports_no_sdk() -> None:
    code = (
        "import sys, byok_client; from byok_client import KeyPool, Key; "
        "print(sorted(m for m in ('openai', 'anthropic', 'google.genai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = (
        "import sys; from byok_client import OpenAI; print('anthropic' in sys.modules, 'google.genai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
