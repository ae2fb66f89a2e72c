"""Framework tests: real framework packages on top of byok_client, against MockProvider on 127.0.0.1.

Each file skips (``pytest.importorskip``) when its framework is absent; ``.ci/frameworks.sh`` runs each in a venv
with the SDK lines that framework pins. Every test shows a failover: key 1 is rate-limited, key 2 serves.
"""

from __future__ import annotations

import io
import runpy
import uuid
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from byok_client import Key
from byok_client.testing import MockProvider, ok, rate_limited

SNIPPETS = Path(__file__).parent / "snippets"
# The keys the README snippets name; the snippet runner registers them on the mock (the first one rate-limited).
SNIPPET_KEYS = {
    "openai": ("sk-first", "sk-second"),
    "anthropic": ("sk-ant-first", "sk-ant-second"),
    "gemini": ("gemini-first", "gemini-second"),
}


def two_keys(mock: MockProvider) -> list[Key]:
    """k0 is rate-limited, k1 serves. Fresh values per call: health is shared per provider and origin."""
    run = uuid.uuid4().hex[:10]
    values = [f"sk-fw-{run}-0-secretvalue", f"sk-fw-{run}-1-secretvalue"]
    mock.add_key(values[0], rate_limited(retry_after=30), label="k0")
    mock.add_key(values[1], ok(), label="k1")
    return [Key(values[0], "k0"), Key(values[1], "k1")]


def run_snippet(name: str, mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run ``snippets/<name>.py`` exactly as the README shows it, with each SDK's base-URL variable pointing at the
    mock; returns what it printed."""
    for provider, (first, second) in SNIPPET_KEYS.items():
        mock.add_key(first, rate_limited(retry_after=30), label=f"{provider}-1")
        mock.add_key(second, ok(), label=f"{provider}-2")
    monkeypatch.setenv("OPENAI_BASE_URL", mock.openai_base_url)
    monkeypatch.setenv("OPENAI_API_BASE", mock.openai_base_url)  # LlamaIndex's name for it
    monkeypatch.setenv("ANTHROPIC_BASE_URL", mock.anthropic_base_url)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", mock.gemini_base_url)
    out = io.StringIO()
    with redirect_stdout(out):
        runpy.run_path(str(SNIPPETS / f"{name}.py"), run_name="__main__")
    return out.getvalue()
