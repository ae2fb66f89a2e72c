"""openai 3.x (from 3.0.0): the clients run on httpx2; ``workload_identity`` and ``provider`` carry credentials;
later releases add ``data_residency`` (passed through like any other argument)."""

from __future__ import annotations

__all__ = ["CREDENTIAL_ARGS"]

# Given any of these, the user authenticates in their own way and managed keys must not stand in for api_key.
CREDENTIAL_ARGS: tuple[str, ...] = ("workload_identity", "provider")
