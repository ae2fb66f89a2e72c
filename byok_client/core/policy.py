"""Value objects of the failover core: failure classes, verdicts, attempts and the policy."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from .._errors import ByokConfigError

__all__ = ["Attempt", "FailoverPolicy", "Failure", "Observation", "Verdict"]


class Failure(enum.StrEnum):
    """Why a response failed, from the key's point of view."""

    RATE_LIMITED = "rate_limited"
    """The key is over a rate limit: it cools until the provider's reset, the request goes to the next key."""
    QUOTA_EXHAUSTED = "quota_exhausted"
    """The key's quota or credit is used up: it cools for a long time, the request goes to the next key."""
    INVALID_KEY = "invalid_key"
    """The key is invalid or revoked: it is disabled until the pool is reloaded."""
    SERVER_ERROR = "server_error"
    """The provider failed (5xx): not the key's fault, but the next key is tried."""
    CLIENT_ERROR = "client_error"
    """The request itself is wrong (plain 400, 404, ...): returned at once, no key is blamed."""

    @property
    def blames_key(self) -> bool:
        """Whether another key may succeed where this one failed."""
        return self is not Failure.CLIENT_ERROR


class Observation(NamedTuple):
    """What came back for one attempt: status, headers (lower-case names) and the start of the body. A named
    tuple: read-only like the other value objects, and built once per request at a tuple's cost (a frozen
    dataclass pays an ``object.__setattr__`` per field)."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    limit_view: Mapping[bytes, bytes] | None = None
    """The headers as a ``{lower-case name: value}`` bytes dict, when the transport built one cheaply (success
    path, for a provider with ``limit_headers``)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A provider classifier's reading of one failed response.

    ``retry_after`` is the cooldown in seconds the provider asked for (None: use the policy's default).
    ``per_model`` says the limit applies to one model only (the request's, or ``model`` when the provider named
    another): other models may still use the key. Quota, billing and invalid keys are key-wide (``per_model``
    False) unless the provider names a per-model quota (Gemini's per-day quotas).
    """

    failure: Failure
    retry_after: float | None = None
    reason: str = ""
    per_model: bool = False
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try within a request: which key (by label), the status and the failure class (None on success)."""

    key_label: str
    status: int
    failure: Failure | None


@dataclass(frozen=True, slots=True)
class FailoverPolicy:
    """How long keys cool and how the SDK's retry loop is steered. Immutable; ``replace()`` returns a copy.

    - ``rate_limit_cooldown``: seconds a rate-limited key cools when the provider names no reset (default 20).
    - ``quota_cooldown``: seconds a key with exhausted quota cools (default 3600).
    - ``retry_after_cap``: the longest ``retry-after-ms`` handed to the SDK when every key cools, kept under the
      SDK's own two-minute ceiling so it still retries (default 60).
    - ``max_error_body``: bytes of an error body read for classification (default 64 KiB); the SDK still gets
      the whole body.
    - ``max_cooldown``: the longest any key cools, whatever the provider says (default 86400, one day). A day
      covers Gemini's per-day quotas (reset at Pacific midnight); a longer block (Anthropic's "regain access on
      <date>") then costs one probing request a day, while a nonsense value (``retry-after: 1e12``) cannot take a
      key out for ever.
    """

    rate_limit_cooldown: float = 20.0
    quota_cooldown: float = 3600.0
    retry_after_cap: float = 60.0
    max_error_body: int = 65536
    max_cooldown: float = 86400.0

    def __post_init__(self) -> None:
        for field in ("rate_limit_cooldown", "quota_cooldown", "retry_after_cap", "max_cooldown"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ByokConfigError(f"FailoverPolicy.{field} must be a finite number >= 0, got {value!r}")
        if self.retry_after_cap > 120:
            raise ByokConfigError("FailoverPolicy.retry_after_cap must be <= 120 s: the SDKs do not retry past that")
        body = self.max_error_body
        if isinstance(body, bool) or not isinstance(body, int) or body < 1024:
            raise ByokConfigError(f"FailoverPolicy.max_error_body must be an int >= 1024, got {body!r}")

    def replace(self, **changes: float) -> FailoverPolicy:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
