"""The core imports no HTTP library, no SDK, no asyncio, no os and no key source: checked by walking its imports."""

from __future__ import annotations

import ast
from pathlib import Path

import byok_client

ROOT = Path(byok_client.__file__).parent
FORBIDDEN = ("httpx", "httpx2", "openai", "anthropic", "google", "aiohttp", "asyncio", "os", "byok_client.sources")


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved), wherever in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _file_of(module: str) -> Path | None:
    if not module.startswith("byok_client"):
        return None
    parts = module.split(".")[1:]
    candidate = ROOT.joinpath(*parts)
    if (candidate / "__init__.py").exists():
        return candidate / "__init__.py"
    if candidate.with_suffix(".py").exists():
        return candidate.with_suffix(".py")
    return None


def test_the_core_and_everything_it_imports_stay_pure() -> None:
    seen: set[Path] = set()
    todo = [(p, "byok_client.core") for p in (ROOT / "core").glob("*.py")]
    offenders: list[str] = []
    while todo:
        path, package = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path, package):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT.parent)} imports {name}")
            target = _file_of(name)
            if target is not None and target not in seen:
                todo.append((target, ".".join(name.split(".")[:-1]) if target.name != "__init__.py" else name))
    assert len(seen) > 8  # the walk really followed the imports
    assert offenders == []


def test_the_walker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("from .. import sources\nimport os.path\nif False:\n    import httpx2\n")
    names = _imports(sample, "byok_client.core")
    assert {"byok_client.sources", "os.path", "httpx2"} <= names
