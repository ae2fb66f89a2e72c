"""Typed errors. Messages name the problem and the key's label, never a key's value."""

from __future__ import annotations

__all__ = ["ByokConfigError", "ByokError", "MissingDependencyError", "NoUsableKeyError"]


class ByokError(Exception):
    """Base class of every error byok_client raises."""


class ByokConfigError(ByokError, ValueError):
    """A key, pool, source or setting is invalid. The message says which one and why."""


class MissingDependencyError(ByokError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package!r} is not installed; install it with: pip install 'byok-client[{extra}]'",
        )
        self.package = package
        self.extra = extra


class NoUsableKeyError(ByokError):
    """Every key in the pool is disabled (for example revoked), so no request can be sent with a managed key.

    Reload the pool with working keys (``pool.reload(...)``) or fix the keys at their source.
    """

    def __init__(self, provider: str, disabled: list[tuple[str, str]]) -> None:
        detail = ", ".join(f"{label} ({reason})" for label, reason in disabled)
        super().__init__(f"no usable {provider} key: all {len(disabled)} keys are disabled: {detail}")
        self.provider = provider
        self.disabled = disabled
