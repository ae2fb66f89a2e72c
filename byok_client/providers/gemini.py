"""Google Gemini (Generative Language API): ``google.rpc.Status`` error bodies with typed ``details``."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.keys import Key
from ..core.policy import Failure, Verdict
from .base import Provider, json_body, parse_duration, rate_limit

__all__ = ["GeminiProvider", "seconds_until_pacific_midnight"]

_INVALID_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "CONSUMER_SUSPENDED", "API_KEY_EXPIRED"})
# 403s that name the key itself, but come without ErrorInfo.
_INVALID_PHRASES = ("reported as leaked", "api key not valid", "api key expired", "has been suspended")
_RETRY_IN = re.compile(r"retry in (\d+(?:\.\d+)?)s", re.IGNORECASE)
_ZERO_LIMIT = re.compile(r"\blimit: 0\b")


def seconds_until_pacific_midnight(now: datetime | None = None) -> float:
    """Seconds until the next midnight in US Pacific time, when Gemini's per-day quotas reset."""
    try:
        from zoneinfo import ZoneInfo

        zone: Any = ZoneInfo("America/Los_Angeles")
    except Exception:  # no tz database: PST is close enough for a cooldown
        zone = UTC
        now = (now or datetime.now(UTC)) - timedelta(hours=8)
    local = (now or datetime.now(UTC)).astimezone(zone)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((midnight - local).total_seconds(), 1.0)


def _details(error: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    items = error.get("details")
    if not isinstance(items, list):
        return []
    return [d for d in items if isinstance(d, dict) and str(d.get("@type", "")).endswith(kind)]


class GeminiProvider(Provider):
    """Gemini's API: the key goes in ``x-goog-api-key``.

    A resumable upload is pinned to the key that started it: the session's upload URL is remembered and every
    request to it goes out with that key and without failover.
    """

    name = "gemini"
    env_list = ("GEMINI_API_KEYS", "GOOGLE_API_KEYS")
    env_numbered = ("GEMINI_API_KEY_", "GOOGLE_API_KEY_")
    default_header = "x-goog-api-key"
    exclusive_header = True
    pins_sessions = True

    def __init__(self, max_sessions: int = 1024) -> None:
        self._sessions: OrderedDict[str, Key] = OrderedDict()
        self._max_sessions = max_sessions
        self._lock = threading.Lock()

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        data = json_body(body) or {}
        error = data.get("error")
        if not isinstance(error, dict):
            error = {}
        state = str(error.get("status", ""))
        message = str(error.get("message", ""))
        lowered = message.lower()
        reasons = {str(d.get("reason", "")) for d in _details(error, "google.rpc.ErrorInfo")}
        if reasons & _INVALID_REASONS or (status in (400, 401, 403) and any(p in lowered for p in _INVALID_PHRASES)):
            return Verdict(Failure.INVALID_KEY, None, next(iter(sorted(reasons & _INVALID_REASONS)), "invalid key"))
        if status == 401:
            return Verdict(Failure.INVALID_KEY, None, state or "unauthenticated")
        if status == 403 and state == "PERMISSION_DENIED" and "project has been denied" in lowered:
            return Verdict(Failure.INVALID_KEY, None, "project denied")
        if status == 429:
            return self._resource_exhausted(error, message)
        if status >= 500:
            return Verdict(Failure.SERVER_ERROR, None, state or f"HTTP {status}")
        return Verdict(Failure.CLIENT_ERROR, None, state or f"HTTP {status}")

    def _resource_exhausted(self, error: Mapping[str, Any], message: str) -> Verdict:
        violations = [
            v
            for d in _details(error, "google.rpc.QuotaFailure")
            for v in d.get("violations", [])
            if isinstance(v, dict)
        ]
        quota_ids = [str(v.get("quotaId", "")) + str(v.get("quotaMetric", "")) for v in violations]
        zero = any(str(v.get("quotaValue", "")) == "0" for v in violations)
        for info in _details(error, "google.rpc.ErrorInfo"):  # the older shape: limits in ErrorInfo metadata
            meta = info.get("metadata")
            if isinstance(meta, dict):
                quota_ids.append(str(meta.get("quota_limit", "")))
                zero = zero or str(meta.get("quota_limit_value", "")) == "0"
        if zero or _ZERO_LIMIT.search(message):
            # this key has no quota at all for the model: waiting does not help
            return Verdict(Failure.QUOTA_EXHAUSTED, None, "zero quota")
        if any("PerDay" in q for q in quota_ids):
            return Verdict(Failure.QUOTA_EXHAUSTED, seconds_until_pacific_midnight(), "per-day quota")
        delay: float | None = None
        for info in _details(error, "google.rpc.RetryInfo"):
            raw = info.get("retryDelay")
            if isinstance(raw, str):
                delay = parse_duration(raw)
        if delay is None and (match := _RETRY_IN.search(message)):
            delay = float(match.group(1))
        return rate_limit(delay, "per-minute quota" if quota_ids else "resource exhausted")

    # -- resumable uploads -------------------------------------------------------------------------------------------
    def pinned_key(self, url: str) -> Key | None:
        """The key a resumable upload session at ``url`` was started with, if any."""
        with self._lock:
            return self._sessions.get(url.split("?", 1)[0] + "?" + _upload_id(url))

    def on_success(self, headers: Mapping[str, str], key: Key) -> None:
        upload_url = headers.get("x-goog-upload-url")
        if upload_url:
            self.remember_session(upload_url, key)

    def remember_session(self, upload_url: str, key: Key) -> None:
        """Pin the session at ``upload_url`` to ``key`` (a bounded, oldest-first memory)."""
        with self._lock:
            self._sessions[upload_url.split("?", 1)[0] + "?" + _upload_id(upload_url)] = key
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)


def _upload_id(url: str) -> str:
    match = re.search(r"[?&]upload_id=([^&]+)", url)
    return match.group(1) if match else ""
