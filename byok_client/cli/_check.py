"""``byok check``: one cheap authenticated request per key (the provider's models list), in parallel, read with
the provider's own classifier."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..core.policy import Failure
from ..providers.base import PLACEHOLDER_KEY
from ._resolve import KeyInfo, ProviderInfo

__all__ = ["CheckResult", "check_keys", "http_library"]

_STATUS = {
    Failure.RATE_LIMITED: "rate-limited",
    Failure.QUOTA_EXHAUSTED: "quota",
    Failure.INVALID_KEY: "invalid",
    Failure.SERVER_ERROR: "unreachable",
    Failure.CLIENT_ERROR: "error",
}


@dataclass(frozen=True)
class CheckResult:
    """What one key's request said: ``status`` is ok / invalid / rate-limited / quota / unreachable / error."""

    key: KeyInfo
    url: str
    status: str
    http_status: int | None
    detail: str
    reset_in: float | None = None

    def row(self) -> dict[str, Any]:
        return {
            "provider": self.key.provider,
            "label": self.key.label,
            "fingerprint": self.key.fingerprint,
            "status": self.status,
            "http_status": self.http_status,
            "reset_in": None if self.reset_in is None else round(self.reset_in, 1),
            "detail": self.detail,
            "url": self.url,
        }


def http_library() -> Any:
    """httpx2 when installed (it is byok_client's own dependency), else httpx; only the one used is imported."""
    try:
        import httpx2

        return httpx2
    except ImportError:
        import httpx

        return httpx


def models_url(info: ProviderInfo, base_url: str) -> str:
    return base_url.rstrip("/") + info.models_path


def _check_one(client: Any, library: Any, info: ProviderInfo, key: KeyInfo, url: str) -> CheckResult:
    headers: dict[str, str] = {info.sdk_header: PLACEHOLDER_KEY, **info.extra_headers}
    info.provider.inject(headers, key.key)  # the key goes where this provider's module puts it
    try:
        response = client.get(url, headers=headers)
    except library.TimeoutException:
        return CheckResult(key, url, "unreachable", None, "timed out")
    except library.HTTPError as exc:  # connection refused, DNS, TLS...: the type says enough, the text may not
        return CheckResult(key, url, "unreachable", None, type(exc).__name__)
    status = response.status_code
    if status < 400:
        return CheckResult(key, url, "ok", status, f"HTTP {status}")
    verdict = info.provider.classify(status, response.headers, response.content)
    reset = verdict.retry_after if verdict.failure in (Failure.RATE_LIMITED, Failure.QUOTA_EXHAUSTED) else None
    detail = verdict.reason or f"HTTP {status}"
    if reset is not None:
        detail += f", resets in {reset:.0f} s"
    return CheckResult(key, url, _STATUS[verdict.failure], status, detail, reset)


def check_keys(keys: list[tuple[ProviderInfo, KeyInfo, str]], timeout: float) -> list[CheckResult]:
    """Check each (provider, key, base URL) at once, in parallel threads; results in the order given."""
    library = http_library()
    # No redirects: a key is never sent to a host it was not meant for.
    with library.Client(timeout=timeout, follow_redirects=False) as client:
        workers = max(1, min(16, len(keys)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(_check_one, client, library, info, key, models_url(info, base)) for info, key, base in keys
            ]
            return [future.result() for future in futures]
