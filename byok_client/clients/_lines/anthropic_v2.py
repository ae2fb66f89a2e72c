"""anthropic 2.x (from 2.0.0): the clients run on httpx2 and take ``credentials``, ``config`` and ``profile``."""

from __future__ import annotations

from typing import Any

__all__ = ["CREDENTIAL_ARGS", "count_as_base_clients"]

# Given any of these, the user authenticates in their own way and managed keys must not stand in for api_key.
CREDENTIAL_ARGS: tuple[str, ...] = ("auth_token", "credentials", "config", "profile")


def count_as_base_clients(*classes: type[Any]) -> None:
    """The SDK runs its credential chain (profiles, workload identity) and hands credentials to copies only for
    ``type(client) in (Anthropic, AsyncAnthropic)``; byok subclasses are drop-ins, so they count as those too."""
    import anthropic._client as sdk_client

    check = getattr(sdk_client, "_is_base_client", None)
    if check is None or getattr(check, "_byok_classes", None) is not None:
        return  # a release without the check, or already extended

    def _is_base_client(client: object) -> bool:
        return bool(check(client)) or type(client) in classes

    _is_base_client._byok_classes = classes  # type: ignore[attr-defined]
    sdk_client._is_base_client = _is_base_client
