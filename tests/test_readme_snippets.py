"""Every ```python block of README.md (and of the docs guides written from it) runs, as written, against a
MockProvider.

The convention (so a README snippet can stay the code a reader would type):

- each snippet runs alone in its own process (forked from one that imported the SDKs, before any client or
  env read), in an empty temporary directory, with a clean environment: ``PATH``, ``HOME`` (the temp dir),
  ``PYTHONPATH`` when set, and the SDKs' own base-URL variables, ``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL`` and
  ``GOOGLE_GEMINI_BASE_URL``, pointing at a fresh MockProvider on 127.0.0.1;
- every string literal in the snippet that looks like a provider key (``"sk-..."``, ``"AIza..."``) is registered
  with that mock, answering ``ok()``, so placeholders must be distinct (a pool refuses duplicate keys);
- ``HTTP(S)_PROXY`` points at a closed loopback port, so a snippet that names a real provider's host fails fast
  instead of reaching the network;
- a block that cannot run (a sketch with ``...``, a path on the reader's machine) carries the HTML comment
  ``<!-- not run: reason -->`` on the line just above its opening fence, and is reported as skipped with that reason.

A snippet passes when its process exits 0 (an uncaught exception: 1, with the traceback on stderr).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from byok_client.testing import MockProvider

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# The docs pages that restate README material; placeholder pages other people fill are not listed (yet).
DOCUMENTS = [
    README,
    ROOT / "docs" / "index.md",
    *(ROOT / "docs" / "guides" / f"{page}.md" for page in ("getting-started", "key-sources", "rotation")),
    *(ROOT / "docs" / "guides" / f"{page}.md" for page in ("strategies", "reliability")),
]
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(.*?)\s*-->\s*$")
# String literals that a reader would replace with a real key: OpenAI-style and Anthropic ("sk-"), Google ("AIza").
_KEY_LITERAL = re.compile(r"""(["'])((?:sk-|AIza)[^"'\s]*)\1""")

# Snippets known to fail today, by the SHA-256 (first 12 hex digits) of the block's text: (why, a piece of the
# error they print). Each still runs and must fail with that error (reported as xfail). A snippet whose text changes
# is no longer listed here and must pass; an entry that matches no snippet any more fails
# test_known_broken_entries_are_current, so this list cannot outlive the fix.
KNOWN_BROKEN: dict[str, tuple[str, str]] = {}


@dataclass(frozen=True)
class Snippet:
    where: str  # file:line of the opening fence (1-based)
    code: str
    skip_reason: str | None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()[:12]


def snippets(text: str, name: str = "README.md") -> list[Snippet]:
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = [row for row in text[: match.start()].splitlines() if row.strip()]
        marker = _NOT_RUN.search(before[-1]) if before else None
        found.append(Snippet(f"{name}:{line}", match.group(1), marker.group(1) if marker else None))
    return found


SNIPPETS = [
    snippet
    for path in DOCUMENTS
    if path.exists()
    for snippet in snippets(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_readme_has_snippets() -> None:
    # Guards the extraction itself: a README with no python blocks found means the fence pattern broke.
    assert sum(s.where.startswith("README.md:") for s in SNIPPETS) >= 5, [s.where for s in SNIPPETS]


def test_extraction_and_markers() -> None:
    text = (
        "intro\n```python\nprint(1)\n```\n\n<!-- not run: needs a real vault -->\n\n```python\nprint(2)\n```\n"
        "```sh\necho no\n```\n"
    )
    found = snippets(text, "x.md")
    assert [(s.where, s.code, s.skip_reason) for s in found] == [
        ("x.md:2", "print(1)\n", None),
        ("x.md:8", "print(2)\n", "needs a real vault"),
    ]


def test_known_broken_entries_are_current() -> None:
    current = {s.digest for s in SNIPPETS}
    stale = sorted(set(KNOWN_BROKEN) - current)
    assert not stale, f"README snippets changed or fixed: remove {stale} from KNOWN_BROKEN"


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.where for s in SNIPPETS])
def test_readme_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    if snippet.skip_reason is not None:
        pytest.skip(f"{snippet.where} not run: {snippet.skip_reason}")
    result = run_snippet(snippet.code, tmp_path)
    where = snippet.where
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if snippet.digest in KNOWN_BROKEN:
        why, error = KNOWN_BROKEN[snippet.digest]
        assert result.returncode != 0, f"{where} runs now: remove {snippet.digest!r} from KNOWN_BROKEN"
        assert error in result.stderr, f"{where} fails differently than KNOWN_BROKEN says ({error!r})\n{output}"
        pytest.xfail(f"{where}: {why}")
    assert result.returncode == 0, f"{where} exited {result.returncode}\n{output}"


# One interpreter imports the SDKs once, then forks a child per snippet: the child starts from that pristine state
# (no client built, no env read yet), takes the snippet's cwd, environment and output files, and runs it as
# ``python -c`` would. Importing openai, anthropic and google-genai costs seconds of CPU per process on a loaded
# 2-core machine; a fork costs milliseconds.
_ZYGOTE = r"""
import atexit, json, os, sys, threading, traceback
import anthropic, google.genai, httpx2, openai
import byok_client, byok_client.clients.anthropic, byok_client.clients.openai, byok_client.genai, byok_client.testing

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        sys.argv = ["-c"]
        code = 0
        try:
            exec(compile(job["code"], "<snippet>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        # What interpreter exit does for a script (non-daemon threads, atexit, flushing), without tearing down
        # every module: that alone takes a second here.
        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    print(json.dumps({"rc": os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}), flush=True)
"""


class _Zygote:
    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def run(self, code: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                # The zygote imports under the same clean environment the snippets get.
                self._process = subprocess.Popen(
                    [sys.executable, "-c", _ZYGOTE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env={k: v for k, v in env.items() if k in ("PATH", "HOME", "PYTHONPATH")},
                    cwd=cwd,
                )
            process = self._process
            assert process.stdin is not None and process.stdout is not None
            out, err = cwd.parent / f"{cwd.name}.stdout", cwd.parent / f"{cwd.name}.stderr"
            job = {"code": code, "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err)}
            process.stdin.write(json.dumps(job) + "\n")
            process.stdin.flush()
            pid = json.loads(process.stdout.readline())["pid"]
            ready, _, _ = select.select([process.stdout], [], [], timeout)
            if not ready:
                os.kill(pid, signal.SIGKILL)
            rc = json.loads(process.stdout.readline())["rc"]
            stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
            out.unlink()
            err.unlink()
            if not ready:
                stderr += f"\n[killed after {timeout} s]"
            return subprocess.CompletedProcess(["<snippet>"], rc, stdout, stderr)

    def close(self) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(30)
            self._process = None


_ZYGOTE_PROCESS = _Zygote()


@pytest.fixture(scope="module", autouse=True)
def _zygote() -> Iterator[None]:
    yield
    _ZYGOTE_PROCESS.close()


def run_snippet(code: str, cwd: Path, proxy: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` by the convention above and return what it did (``proxy`` replaces the dead one)."""
    with MockProvider() as mock:
        for key in {key for _quote, key in _KEY_LITERAL.findall(code)}:
            mock.add_key(key)
        dead_proxy = proxy or f"http://127.0.0.1:{_closed_port()}"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(cwd),
            "OPENAI_BASE_URL": mock.openai_base_url,
            "ANTHROPIC_BASE_URL": mock.anthropic_base_url,
            "GOOGLE_GEMINI_BASE_URL": mock.gemini_base_url,
            "HTTP_PROXY": dead_proxy,
            "HTTPS_PROXY": dead_proxy,
            "ALL_PROXY": dead_proxy,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        if "PYTHONPATH" in os.environ:  # which byok_client runs, when the suite runs on another checkout
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return _ZYGOTE_PROCESS.run(code, cwd, env)


def test_convention_blocks_real_hosts(tmp_path: Path) -> None:
    # The proxy guard is what keeps a snippet off the network: a request to a real provider's host goes to the proxy
    # (a listening socket here, to see it; a closed port in the real runs) and loopback goes straight to the mock.
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(1)
        proxy.settimeout(30)
        seen: list[bytes] = []

        def accept() -> None:
            conn, _ = proxy.accept()
            with conn:
                seen.append(conn.recv(1024))

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        code = (
            "import httpx2\n"
            "try:\n    httpx2.get('https://api.openai.com/v1/models', timeout=10)\n"
            "except httpx2.TransportError as exc:\n    print(type(exc).__name__)\n"
        )
        result = run_snippet(code, tmp_path, proxy=f"http://127.0.0.1:{proxy.getsockname()[1]}")
        thread.join(30)
    assert result.returncode == 0, result.stderr
    assert seen and seen[0].startswith(b"CONNECT api.openai.com:443 "), seen
    result = run_snippet(
        "import os, httpx2\nprint(httpx2.get(os.environ['OPENAI_BASE_URL'] + '/models').status_code)\n", tmp_path
    )
    assert (result.returncode, result.stdout.strip()) == (0, "401"), result.stderr


def test_framework_snippets_in_the_readme_are_the_files_the_framework_tests_run() -> None:
    """A README block marked ``not run: tests/frameworks/snippets/<name>.py runs it as written`` is that file."""
    text = README.read_text()
    found = 0
    for match in re.finditer(
        r"<!-- not run: (tests/frameworks/snippets/\S+\.py) runs it as written -->\n```python\n(.*?)```", text, re.S
    ):
        path, block = match.groups()
        assert block == (ROOT / path).read_text(), path
        found += 1
    assert found >= 8
