"""anthropic 1.x (from 1.0.0): the clients run on httpx2 and take ``credentials``, ``config`` and ``profile``. What
byok_client needs of the line is what 0.x's adapter does (it uses each hook only where the release has it)."""

from __future__ import annotations

from .anthropic_v0 import CREDENTIAL_ARGS, count_as_base_clients

__all__ = ["CREDENTIAL_ARGS", "count_as_base_clients"]
