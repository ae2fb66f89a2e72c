"""examples/quickstart.ipynb runs headless, top to bottom, on this interpreter, against its MockProvider."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"
KERNEL = "byok-quickstart-test"


@pytest.fixture
def kernel_on_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec for ``sys.executable`` in a temp dir on ``JUPYTER_PATH``: nothing is registered globally, and no
    other ``python3`` kernel on the machine can shadow this interpreter. Runtime files stay in the temp dir too."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return KERNEL


def _texts(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def _html(cell: Any) -> str:
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.get("outputs", []))


def _cell(nb: Any, needle: str) -> Any:
    matches = [c for c in nb.cells if c.cell_type == "code" and needle in c.source]
    assert len(matches) == 1, f"expected one code cell containing {needle!r}"
    return matches[0]


@pytest.mark.timeout(120)
def test_quickstart_notebook_runs(kernel_on_this_interpreter: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the CI shortcut the notebook still must not block: nbclient gives the kernel no stdin, so the
    # getpass prompt raises at once and the notebook falls back to the mock.
    monkeypatch.delenv("CI", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name=kernel_on_this_interpreter, timeout=60, startup_timeout=60, allow_errors=False
    )
    client.execute(cwd=str(NOTEBOOK.parent))

    assert "no keys given: using the MockProvider" in _texts(_cell(nb, "def ask_for_keys"))
    first = _texts(_cell(nb, 'client = OpenAI(api_keys=[Key("sk-demo-good-1111"'))
    assert "reply: served by good" in first and "x-byok-key: good" in first
    failover = _texts(_cell(nb, "failover_client = OpenAI("))
    # the mock's answer names the key it saw; the header is byok_client's own record of which key served
    assert "reply: served by good" in failover and "x-byok-key: good" in failover
    assert "['limited', 'good']" in failover  # key 1 got the request first and answered 429
    assert "FailedOver" in failover
    pool_cell = _cell(nb, "\npool")
    assert "<table" in _html(pool_cell)
    assert "limited" in _html(pool_cell) and "cooling" in _html(pool_cell)
    assert "<table" in _html(_cell(nb, "pool.stats()"))
    # top-level await: five concurrent requests, all straight to the ready key
    concurrent = _texts(_cell(nb, "await asyncio.gather"))
    assert "replies: ['served by good']" in concurrent
    assert "x-byok-key: ['good'] - provider saw: ['good', 'good', 'good', 'good', 'good']" in concurrent
    for cell in nb.cells:  # no key value reaches any output
        if cell.cell_type == "code":
            assert "sk-demo-" not in _texts(cell) + _html(cell)
