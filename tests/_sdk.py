"""The installed SDK line as the client tests see it: the HTTP library the SDK uses and byok_client's transport
shell for that library, so one test file runs on every supported line."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from byok_client.clients import _lines

__all__ = ["http_library", "inner_of", "is_installed", "line_of"]


def http_library(sdk: str) -> ModuleType:
    """The HTTP library (``httpx`` or ``httpx2``) the installed ``sdk`` builds its clients with."""
    if sdk == "google-genai":
        from google.genai import types

        adapter: Any = _lines.adapter(sdk)
        return importlib.import_module(adapter.backend(types.HttpOptions()))
    base = importlib.import_module(f"{sdk}._base_client")
    module = getattr(base, "httpx2", None) or base.httpx
    assert isinstance(module, ModuleType)
    return module


def is_installed(transport: object) -> bool:
    """Whether byok_client's transport shell handles ``transport`` (for httpx and httpx2 alike)."""
    from byok_client.transports import is_installed as installed

    return installed(transport)  # the shell installs itself on the SDK's own transport objects


def inner_of(transport: Any) -> Any:
    """The SDK's (or the user's) transport object under the shell: the very same object."""
    return transport


def line_of(sdk: str) -> _lines.Line:
    """The supported line of the installed ``sdk``."""
    line = _lines.supported(sdk)
    assert line is not None, f"{sdk} is not a supported release"
    return line
