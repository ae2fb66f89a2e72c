"""google-genai 2.x (from 2.0.0): the clients run on httpx. Late 2.x releases can run on httpx2 instead
(``GOOGLE_GENAI_HTTP_CLIENT``, or httpx missing), chosen by a ``_get_http_client_backend()`` without arguments."""

from __future__ import annotations

from typing import Any

__all__ = ["backend"]


def backend(options: Any) -> str:
    """The HTTP library (``httpx`` or ``httpx2``) this release will build its clients with for ``options``."""
    from google.genai import _api_client

    choose = getattr(_api_client, "_get_http_client_backend", None)
    return str(choose()) if choose is not None else "httpx"
