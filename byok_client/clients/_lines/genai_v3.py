"""google-genai 3.x (from 3.0.0): the clients run on httpx2; httpx is optional, chosen by
``_get_http_client_backend(http_options)`` (``GOOGLE_GENAI_HTTP_CLIENT`` or the user's own clients)."""

from __future__ import annotations

from typing import Any

__all__ = ["backend"]


def backend(options: Any) -> str:
    """The HTTP library (``httpx`` or ``httpx2``) this release will build its clients with for ``options``."""
    from google.genai._api_client import _get_http_client_backend

    return str(_get_http_client_backend(options))
