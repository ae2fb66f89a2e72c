"""Every piece of process-wide state byok_client keeps, and one function that resets it (for tests): isolation that
does not depend on the garbage collector.

- ``core.registry.SCOPES``: each (provider, origin) scope's shared key health and lock;
- ``_binding.TOKENS``: google-genai clients' placeholder tokens;
- the Gemini provider's pinned upload sessions;
- the config files already warned about for inline keys;
- ``state.shared_state``'s backends (closed).
"""

from __future__ import annotations

import sys

__all__ = ["reset_process_state"]


def reset_process_state() -> None:
    """Forget all of it. Modules not imported yet hold nothing and are left alone."""
    from ._binding import TOKENS
    from .core.registry import SCOPES

    SCOPES.clear()
    TOKENS.clear()
    genai = sys.modules.get("byok_client.genai")
    if genai is not None:
        genai._PROVIDER.forget_sessions()
    config = sys.modules.get("byok_client.config")
    if config is not None:
        config._warned_inline.clear()
    state = sys.modules.get("byok_client.state")
    if state is not None:
        state.close_shared()
