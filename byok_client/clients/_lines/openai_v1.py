"""openai 1.x (from 1.108.1): the clients run on httpx; ``api_key`` is the only credential argument."""

from __future__ import annotations

__all__ = ["CREDENTIAL_ARGS"]

# Arguments besides api_key through which the user supplies credentials of their own: none on this line.
CREDENTIAL_ARGS: tuple[str, ...] = ()
