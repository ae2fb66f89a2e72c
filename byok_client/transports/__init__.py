"""Transport shells around the HTTP client an SDK uses (httpx2 or httpx), chosen from the client itself.

``install(client)`` gives an ``httpx2``/``httpx`` ``Client`` or ``AsyncClient`` key injection and failover for the
requests a byok client marks; it imports only the HTTP library that ``client`` comes from.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

__all__ = ["install", "wrap_transport"]

_C = TypeVar("_C")


def install(client: _C) -> _C:
    """Install the shell on every transport of ``client`` (sync or async, httpx2 or httpx); idempotent."""
    library = type(client).__module__.split(".")[0]
    if library not in ("httpx", "httpx2"):
        for base in type(client).__mro__:
            if base.__module__.split(".")[0] in ("httpx", "httpx2"):
                library = base.__module__.split(".")[0]
                break
        else:
            raise TypeError(f"not an httpx or httpx2 client: {type(client).__name__}")
    shell: Any = importlib.import_module(f"byok_client.transports.{library}")
    http: Any = importlib.import_module(library)
    if isinstance(client, http.AsyncClient):
        return shell.install_async(client)  # type: ignore[no-any-return]
    return shell.install(client)  # type: ignore[no-any-return]


_T = TypeVar("_T")


def wrap_transport(transport: _T) -> _T:
    """A transport for an SDK's ``client_args``/``async_client_args`` that injects keys and fails over for
    requests a byok client marks (passes every other request through). Idempotent."""
    library = type(transport).__module__.split(".")[0]
    for base in type(transport).__mro__:
        if base.__module__.split(".")[0] in ("httpx", "httpx2"):
            library = base.__module__.split(".")[0]
            break
    shell: Any = importlib.import_module(f"byok_client.transports.{library}")
    http: Any = importlib.import_module(library)
    if isinstance(transport, shell.KeyInjectingTransport | shell.AsyncKeyInjectingTransport):
        return transport
    if isinstance(transport, http.AsyncBaseTransport):
        return shell.AsyncKeyInjectingTransport(transport)  # type: ignore[no-any-return]
    return shell.KeyInjectingTransport(transport)  # type: ignore[no-any-return]
