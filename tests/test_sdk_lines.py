"""The supported SDK lines: the installed release's line, its exact signature, pass-through of keywords a newer
release adds, introspection of the public API, and which HTTP library gets imported. Runs on every line in
.ci/sdk_matrix.sh; each test skips only when its SDK is not installed."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import types
import typing
from typing import Any

import pytest

import byok_client
from byok_client import KeyPool, UnsupportedSDKVersionError
from byok_client.clients import _lines
from byok_client.testing import MockProvider

from ._sdk import http_library, line_of

# distribution -> (module, byok class names, SDK class names, the SDK's import name)
SDKS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "openai": ("byok_client.clients.openai", ("OpenAI", "AsyncOpenAI"), ("openai.OpenAI", "openai.AsyncOpenAI")),
    "anthropic": (
        "byok_client.clients.anthropic",
        ("Anthropic", "AsyncAnthropic"),
        ("anthropic.Anthropic", "anthropic.AsyncAnthropic"),
    ),
    "google-genai": ("byok_client.genai", ("Client",), ("google.genai.Client",)),
}
INSTALLED = [pytest.param(d, id=d) for d in SDKS if _lines.installed_version(d) is not None]
needs_one_sdk = pytest.mark.skipif(not INSTALLED, reason="no SDK installed")


def _resolve(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _pairs(dist: str) -> list[tuple[type[Any], type[Any]]]:
    module, ours, theirs = SDKS[dist]
    mod = importlib.import_module(module)
    return [(getattr(mod, o), _resolve(t)) for o, t in zip(ours, theirs, strict=True)]


# -- which line --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dist", INSTALLED)
def test_installed_release_is_a_supported_line_on_its_http_library(dist: str) -> None:
    line = line_of(dist)
    version = _lines.installed_version(dist)
    assert version is not None and version.split(".")[0] == str(line.major)
    assert http_library(dist).__name__ == line.http_library  # the README table's HTTP library column is right


def test_release_parsing_and_the_unsupported_error_message(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _lines._release("3.0.0rc1") == (3, 0, 0)
    assert _lines._release("1.108.1.post2") == (1, 108, 1)
    versions = {"openai": "1.50.0", "anthropic": "3.0.0", "google-genai": "1.75.0"}
    monkeypatch.setattr(_lines, "installed_version", versions.get)
    for dist, version in versions.items():
        assert _lines.supported(dist) is None
        with pytest.raises(UnsupportedSDKVersionError) as caught:
            _lines.adapter(dist)
        text = str(caught.value)
        assert text.startswith(f"{dist} {version} is installed, but byok_client supports {dist} ")
        for line in _lines.SUPPORTED[dist]:
            assert f"{line.major}.x (>= {line.oldest})" in text
        assert isinstance(caught.value, ImportError)
    monkeypatch.setattr(_lines, "installed_version", {"openai": "1.108.1"}.get)
    assert _lines.supported("openai") == _lines.SUPPORTED["openai"][0]


# -- the SDK's exact signature -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dist", INSTALLED)
def test_init_copy_and_with_options_keep_the_installed_sdks_exact_signature(dist: str) -> None:
    for ours, theirs in _pairs(dist):
        methods = ["__init__"] + (["copy", "with_options"] if hasattr(theirs, "copy") else [])
        for method in methods:
            mine = inspect.signature(getattr(ours, method)).parameters
            sdk = inspect.signature(getattr(theirs, method)).parameters
            function = getattr(theirs, method)
            evaluated = inspect.signature(function, eval_str=_evaluable(function)).parameters
            for name, param in sdk.items():
                if param.kind is inspect.Parameter.VAR_KEYWORD:
                    continue
                assert name in mine, f"{ours.__name__}.{method} lacks {name}"
                assert mine[name].kind == param.kind, name
                assert mine[name].default is param.default or mine[name].default == param.default, name
                if name != "config":  # anthropic's config: a mapping for the SDK, also a path for byok_client
                    assert str(mine[name].annotation) == str(evaluated[name].annotation), name
            for name in ("api_keys", "key_pool", "settings", "config", "strategy", "on_event"):
                assert mine[name].kind is inspect.Parameter.KEYWORD_ONLY and mine[name].default is None
            assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in mine.values())
        if hasattr(theirs, "copy"):  # the SDKs' own test: what __init__ takes, copy takes too (as in the SDK)
            assert _not_in_copy(ours) == _not_in_copy(theirs)


def _not_in_copy(cls: type[Any]) -> list[str]:
    copy = inspect.signature(cls.copy).parameters
    return [n for n in inspect.signature(cls.__init__).parameters if n not in copy]


def _evaluable(function: Any) -> bool:
    try:
        inspect.signature(function, eval_str=True)
    except NameError:
        return False
    return True


# -- a keyword a newer SDK release adds passes through -------------------------------------------------------------
def _newer_sdk(theirs: type[Any], seen: dict[str, Any]) -> type[Any]:
    """``theirs`` as a newer release would be: its constructor and copy take ``brand_new_option``."""

    def __init__(self: Any, *, brand_new_option: int = 0, **kwargs: Any) -> None:
        seen.setdefault("init", []).append(brand_new_option)
        theirs.__init__(self, **kwargs)

    namespace: dict[str, Any] = {"__init__": __init__}
    if hasattr(theirs, "copy"):

        def copy(self: Any, *, brand_new_option: int | None = None, _extra_kwargs: Any = None, **kwargs: Any) -> Any:
            seen.setdefault("copy", []).append(brand_new_option)
            extra = dict(_extra_kwargs or {})
            extra["brand_new_option"] = brand_new_option if brand_new_option is not None else 0
            return theirs.copy(self, _extra_kwargs=extra, **kwargs)

        namespace["copy"] = namespace["with_options"] = copy
    return type(f"Newer{theirs.__name__}", (theirs,), namespace)


def _base_url_kwargs(dist: str, mock: MockProvider) -> dict[str, Any]:
    if dist == "openai":
        return {"base_url": mock.openai_base_url}
    if dist == "anthropic":
        return {"base_url": mock.anthropic_base_url}
    return {"http_options": {"base_url": mock.gemini_base_url}}


@pytest.mark.parametrize("dist", INSTALLED)
def test_a_keyword_a_newer_release_adds_passes_through_init_copy_and_with_options(
    dist: str, mock: MockProvider
) -> None:
    for ours, theirs in _pairs(dist):
        seen: dict[str, Any] = {}
        # byok's class over the newer SDK class: the MRO puts the newer constructor right after byok's
        cls = type(f"ByokOn{theirs.__name__}", (ours, _newer_sdk(theirs, seen)), {})
        pool = KeyPool(["sk-pass-through-a", "sk-pass-through-b"])
        client = cls(key_pool=pool, brand_new_option=7, **_base_url_kwargs(dist, mock))
        assert seen["init"] == [7] and client.key_pool is pool
        if hasattr(theirs, "copy"):
            copied = client.copy(brand_new_option=8)
            derived = client.with_options(brand_new_option=9, max_retries=0)
            assert seen["copy"] == [8, 9] and seen["init"] == [7, 8, 9]
            assert copied.key_pool is pool and derived.key_pool is pool and derived.max_retries == 0


# -- introspection of the public API -----------------------------------------------------------------------------
def _public_objects() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name in byok_client.__all__:
        value = getattr(byok_client, name)
        if isinstance(value, types.ModuleType):  # byok_client.genai: its own classes (types/errors are google's)
            found += [(f"{name}.{n}", getattr(value, n)) for n in value.__all__ if n not in ("types", "errors")]
        else:
            found.append((name, value))
    return found


def _own_members(cls: type[Any]) -> list[tuple[str, Any]]:
    """The public methods and properties byok_client defines on ``cls`` or its byok bases (not the SDK's)."""
    members = []
    for base in cls.__mro__:
        if not base.__module__.startswith("byok_client"):
            continue
        for name, attr in vars(base).items():
            if name.startswith("_") and name != "__init__":
                continue
            function = attr.fget if isinstance(attr, property) else getattr(attr, "__func__", attr)
            if inspect.isfunction(function):
                members.append((f"{base.__name__}.{name}", function))
    return members


def test_type_hints_and_evaluated_signatures_work_on_every_public_class_and_method() -> None:
    checked, failing = 0, set()

    def check(name: str, function: Any) -> None:
        nonlocal checked
        try:
            typing.get_type_hints(function)
            inspect.signature(function, eval_str=True)
        except NameError:
            failing.add(name)
        checked += 1

    for name, value in _public_objects():
        if inspect.isclass(value):
            own = [b for b in value.__mro__ if b.__module__.startswith("byok_client")]
            if any("__init__" in vars(b) for b in own):  # (a builtin exception's constructor has no signature)
                try:
                    inspect.signature(value, eval_str=True)
                except NameError:
                    failing.add(f"{name}()")
            for base in own:  # the class annotations byok_client writes (the SDKs' own may not resolve)
                shell = type("Shell", (), {"__annotations__": dict(vars(base).get("__annotations__", {}))})
                shell.__module__ = base.__module__
                try:
                    typing.get_type_hints(shell)
                except NameError:
                    failing.add(f"{base.__name__} class annotations")
            for member, function in _own_members(value):
                check(member, function)
        elif inspect.isfunction(value):
            check(name, value)
    assert checked >= 20
    assert failing == set()


@pytest.mark.parametrize("dist", INSTALLED)
def test_the_sdk_clients_copy_and_init_introspect(dist: str) -> None:
    for ours, _ in _pairs(dist):
        for method in ("__init__", "copy", "with_options"):
            if hasattr(ours, method):
                hints = typing.get_type_hints(getattr(ours, method))
                assert "api_keys" in hints and "on_event" in hints
                assert "api_keys" in inspect.signature(getattr(ours, method), eval_str=True).parameters


# -- only the SDK's HTTP library is imported ---------------------------------------------------------------------
USE = """
import json, sys
from byok_client.testing import MockProvider
sdk_dist = {dist!r}
{sdk_import}
with MockProvider() as mock:
    mock.add_key("sk-lib-a")
    raw = {raw}
    before = sorted(m for m in ("httpx", "httpx2") if m in sys.modules)
    import byok_client
    {use}
    after = sorted(m for m in ("httpx", "httpx2") if m in sys.modules)
    print(json.dumps([before, after, mock.labels()]))
"""
USES = {
    "openai": (
        "import openai",
        "openai.OpenAI(api_key='x', base_url=mock.openai_base_url)",
        "byok_client.OpenAI(api_keys=['sk-lib-a'], base_url=mock.openai_base_url).models.list()",
    ),
    "anthropic": (
        "import anthropic",
        "anthropic.Anthropic(api_key='x', base_url=mock.anthropic_base_url)",
        "byok_client.Anthropic(api_keys=['sk-lib-a'], base_url=mock.anthropic_base_url).models.list()",
    ),
    "google-genai": (
        "from google import genai",
        "genai.Client(api_key='x', http_options={'base_url': mock.url})",
        "client = byok_client.genai.Client(api_keys=['sk-lib-a'], http_options={'base_url': mock.url}); "
        "client.models.generate_content(model='gemini-2.5-flash', contents='hi')",
    ),
}


@pytest.mark.parametrize("dist", INSTALLED)
def test_byok_client_imports_no_http_library_the_sdk_does_not(dist: str) -> None:
    sdk_import, raw, use = USES[dist]
    code = USE.format(dist=dist, sdk_import=sdk_import, raw=raw, use=use)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    before, after, labels = json.loads(out.stdout)
    assert after == before, "byok_client imported an HTTP library the SDK had not"
    assert http_library(dist).__name__ in after
    assert labels and labels[-1] == "key1"  # the managed key went out
