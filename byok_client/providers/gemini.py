"""Google Gemini (Generative Language API): ``google.rpc.Status`` error bodies with typed ``details``."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.keys import Key
from ..core.policy import Failure, Verdict
from .base import Provider, json_body, object_field, parse_duration, parse_seconds, rate_limit, text_field

__all__ = ["GeminiProvider", "seconds_until_pacific_midnight"]

_INVALID_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "CONSUMER_SUSPENDED", "API_KEY_EXPIRED"})
# 403s that name the key itself, but come without ErrorInfo.
_INVALID_PHRASES = ("reported as leaked", "api key not valid", "api key expired", "has been suspended")
_RETRY_IN = re.compile(r"retry in ([0-9]+(?:\.[0-9]+)?)s", re.IGNORECASE)
# "Quota exceeded for metric: ..., limit: 0, model: gemini-2.0-flash"
_ZERO_LIMIT = re.compile(r"\blimit: 0\b(?:, model: ([A-Za-z0-9._-]+))?")
# A model named inside a quota id or metric (".../gemini-2.5-pro/requests", "...-PerModel-gemini-2.0-flash").
_MODEL_IN_QUOTA = re.compile(
    r"(?<![A-Za-z0-9])((?:gemini|gemma|imagen|veo|learnlm|text-embedding|embedding)-[A-Za-z0-9.-]*[A-Za-z0-9])"
)
_PATH_MODEL = re.compile(r"(?:^|/)(models|tunedModels)/([^/:?#]+)")


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


def _details(error: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    items = error.get("details")
    if not isinstance(items, list):
        return []
    return [d for d in items if isinstance(d, dict) and text_field(d, "@type").endswith(kind)]


class _Limit:
    """One quota a 429 names (a QuotaFailure violation, or the older ErrorInfo metadata)."""

    __slots__ = ("model", "per_day", "per_model", "zero")

    def __init__(self, quota_id: str, model: str, value: str) -> None:
        if not model and (named := _MODEL_IN_QUOTA.search(quota_id)):
            model = named.group(1)
        self.model = model or None
        self.per_day = "PerDay" in quota_id or "per_day" in quota_id.lower()
        # A model dimension, or "PerModel" in the id (then it is the request's model): other models are free.
        self.per_model = self.model is not None or "PerModel" in quota_id
        self.zero = value == "0"


def _limits(error: Mapping[str, Any]) -> list[_Limit]:
    limits: list[_Limit] = []
    for failure in _details(error, "google.rpc.QuotaFailure"):
        violations = failure.get("violations")
        for v in violations if isinstance(violations, list) else ():
            if isinstance(v, dict):
                quota_id = text_field(v, "quotaId") + " " + text_field(v, "quotaMetric")
                model = text_field(object_field(v, "quotaDimensions"), "model")
                limits.append(_Limit(quota_id, model, text_field(v, "quotaValue")))
    for info in _details(error, "google.rpc.ErrorInfo"):  # the older shape: limits in ErrorInfo metadata
        meta = object_field(info, "metadata")
        if meta:
            quota_id = text_field(meta, "quota_limit") + " " + text_field(meta, "quota_metric")
            limits.append(_Limit(quota_id, text_field(meta, "model"), text_field(meta, "quota_limit_value")))
    return limits


def _scope(limits: list[_Limit]) -> tuple[bool, str | None]:
    """(per_model, model) of the limits that decided: key-wide if any of them is; else the first model named."""
    if not limits or not all(limit.per_model for limit in limits):
        return False, None
    return True, next((limit.model for limit in limits if limit.model), None)


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

    def forget_sessions(self) -> None:
        """Forget every pinned upload session (for tests)."""
        with self._lock:
            self._sessions.clear()

    def rejection(self, message: str) -> bytes:
        return json.dumps({"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED"}}).encode()

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        """Gemini's error classes (see ``Provider.classify``; never raises). A 429 is per model when its quota
        names a model (``quotaDimensions.model``, or the model in the quota id) or is a ``PerModel`` quota;
        otherwise, and with no details at all, it binds the whole key."""
        error = object_field(json_body(body), "error")
        state = text_field(error, "status")
        message = text_field(error, "message")
        lowered = message.lower()
        reasons = {text_field(d, "reason") for d in _details(error, "google.rpc.ErrorInfo")}
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

    def request_model(self, path: str, body: bytes) -> str | None:
        """The model in the URL path: ``gemini-2.5-flash`` for ``/v1beta/models/gemini-2.5-flash:generateContent``
        (and ``:streamGenerateContent``, ``:countTokens``, ...), ``tunedModels/<name>`` for a tuned model."""
        if not isinstance(path, str):
            return None
        match = _PATH_MODEL.search(path.split("?", 1)[0])
        if match is None:
            return None
        name = urllib.parse.unquote(match.group(2))
        return name if match.group(1) == "models" else f"tunedModels/{name}"

    def _resource_exhausted(self, error: Mapping[str, Any], message: str) -> Verdict:
        limits = _limits(error)
        zero = [limit for limit in limits if limit.zero]
        zero_in_message = _ZERO_LIMIT.search(message)
        if zero or zero_in_message is not None:
            # this key has no quota at all for the model: waiting does not help
            per_model, model = _scope(zero)
            if not zero and zero_in_message is not None and zero_in_message.group(1):
                per_model, model = True, zero_in_message.group(1)
            return Verdict(Failure.QUOTA_EXHAUSTED, None, "zero quota", per_model=per_model, model=model)
        per_day = [limit for limit in limits if limit.per_day]
        if per_day:
            per_model, model = _scope(per_day)
            return Verdict(
                Failure.QUOTA_EXHAUSTED,
                seconds_until_pacific_midnight(),
                "per-day quota",
                per_model=per_model,
                model=model,
            )
        delay: float | None = None
        for info in _details(error, "google.rpc.RetryInfo"):
            delay = parse_duration(info.get("retryDelay"))
        if delay is None and (match := _RETRY_IN.search(message)):
            delay = parse_seconds(match.group(1))
        per_model, model = _scope(limits)
        return rate_limit(
            delay, "per-minute quota" if limits else "resource exhausted", per_model=per_model, model=model
        )

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
