"""Run a README snippet for one provider against byok_client.testing.MockProvider on 127.0.0.1.

    python .ci/run_snippet.py PROVIDER SNIPPET.py [SNIPPET.py ...]
    python .ci/run_snippet.py PROVIDER --from-readme README.md

PROVIDER is an extra: openai, anthropic or google. Every string in an ``api_keys=[...]`` of the snippet is
registered on the mock (the first one rate-limited, so the snippet also shows failover); the SDK's base-URL
variables point the snippet's clients at the mock. The snippet runs unchanged; it passes when it raised nothing and
every request it made reached the mock with a key it registered (the first key rate-limited, the next serving).
With ``--from-readme``, the snippets are the ```python blocks that import only this provider's clients from
byok_client and pass two or more ``api_keys``;
blocks that start a MockProvider of their own are left out. Exits non-zero on any failure.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

CLIENTS = {"openai": {"OpenAI", "AsyncOpenAI"}, "anthropic": {"Anthropic", "AsyncAnthropic"}, "google": {"genai"}}


def readme_snippets(readme: Path, provider: str) -> list[tuple[str, str]]:
    """The python blocks of ``readme`` that import only ``provider``'s byok_client clients."""
    others = set().union(*(names for name, names in CLIENTS.items() if name != provider))
    found = []
    for number, block in enumerate(re.findall(r"```python\n(.*?)```", readme.read_text(), re.DOTALL), 1):
        imported = set()
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module == "byok_client":
                imported |= {alias.name for alias in node.names}
        if (
            imported & CLIENTS[provider]
            and not imported & others
            and len(snippet_keys(block)) >= 2
            and "MockProvider" not in block
        ):
            found.append((f"{readme}#python-block-{number}", block))
    return found


def snippet_keys(code: str) -> list[str]:
    """The string literals of every ``api_keys=[...]`` in ``code``, in order."""
    keys: list[str] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.keyword) and node.arg == "api_keys" and isinstance(node.value, ast.List | ast.Tuple):
            keys += [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return keys


def run(provider: str, where: str, code: str) -> None:
    from byok_client.testing import MockProvider, ok, rate_limited

    keys = snippet_keys(code)
    if len(keys) < 2:
        raise SystemExit(f"{where}: needs an api_keys=[...] with two or more keys to show failover, found {keys}")
    with MockProvider() as mock:
        for i, key in enumerate(dict.fromkeys(keys)):
            mock.add_key(key, rate_limited(retry_after=30) if i == 0 else ok(), label=f"k{i}")
        for name in list(os.environ):
            if name.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_", "BYOK_")):
                del os.environ[name]
        os.environ.update(
            OPENAI_BASE_URL=mock.openai_base_url,
            ANTHROPIC_BASE_URL=mock.anthropic_base_url,
            GOOGLE_GEMINI_BASE_URL=mock.gemini_base_url,
        )
        exec(compile(code, where, "exec"), {"__name__": "__snippet__"})
        labels = mock.labels()
    if not labels or labels[0] != "k0" or any(label in ("<none>", "<unknown>", "<multiple>") for label in labels):
        raise SystemExit(f"{where}: the mock saw {labels}; expected k0 (rate-limited) then a registered key")
    if labels[-1] == "k0":
        raise SystemExit(f"{where}: the rate-limited key served the last request ({labels})")
    print(f"{provider}: {where}: ok, requests served by {' -> '.join(labels)}")


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in CLIENTS:
        print(__doc__, file=sys.stderr)
        return 2
    provider = argv[0]
    if argv[1] == "--from-readme":
        snippets = readme_snippets(Path(argv[2]), provider)
    else:
        snippets = [(path, Path(path).read_text()) for path in argv[1:]]
    if not snippets:
        print(f"no {provider} snippet found", file=sys.stderr)
        return 1
    for where, code in snippets:
        run(provider, where, code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
