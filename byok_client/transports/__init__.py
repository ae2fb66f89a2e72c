"""The transport shell around the HTTP client an SDK uses (httpx2 or httpx).

``install(client)`` gives an ``httpx2``/``httpx`` ``Client`` or ``AsyncClient`` key injection and failover for the
requests a byok client marks, keeping the client's own transport objects; ``wrap_transport(t)`` does the same for
one transport (for an SDK's ``client_args``). Neither imports an HTTP library: they work on the objects given.
"""

from __future__ import annotations

from ._shell import install, is_installed, wrap_transport

__all__ = ["install", "is_installed", "wrap_transport"]
