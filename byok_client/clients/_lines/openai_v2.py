"""openai 2.x (from 2.0.0): the clients run on httpx (httpx2 is an optional extra late in the line, not the
default); later 2.x releases add ``workload_identity`` and ``provider`` as credential arguments."""

from __future__ import annotations

__all__ = ["CREDENTIAL_ARGS"]

# Given any of these, the user authenticates in their own way and managed keys must not stand in for api_key.
CREDENTIAL_ARGS: tuple[str, ...] = ("workload_identity", "provider")
