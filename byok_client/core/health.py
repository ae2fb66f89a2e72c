"""What is known about one key: state, counters, a sliding error window and the provider's reported limits."""

from __future__ import annotations

from .policy import Failure

__all__ = ["WINDOW_BUCKETS", "WINDOW_SECONDS", "Health", "ModelHealth", "Window"]

WINDOW_SECONDS = 60.0
WINDOW_BUCKETS = 12
_BUCKET = WINDOW_SECONDS / WINDOW_BUCKETS
# fields per bucket: epoch, attempts, failures, rate limits, timeouts
_FIELDS = 5


class Window:
    """Attempt outcomes over the last ``WINDOW_SECONDS``, in ``WINDOW_BUCKETS`` buckets (one flat list). A list,
    not an ``array``: the window is touched once per request, amid the SDK's own work, and a list's item access is
    the interpreter's common path (an array's is code nothing else on the request path runs; timed inside a real
    request, that cost twice as much)."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data = [-1, 0, 0, 0, 0] * WINDOW_BUCKETS

    def add(self, now: float, failure: Failure | None, timeout: bool = False) -> None:
        epoch = int(now // _BUCKET)
        base = (epoch % WINDOW_BUCKETS) * _FIELDS
        data = self._data
        if data[base] != epoch:
            data[base : base + _FIELDS] = (epoch, 0, 0, 0, 0)
        data[base + 1] += 1
        if failure is not None or timeout:
            data[base + 2] += 1
        if failure is Failure.RATE_LIMITED:
            data[base + 3] += 1
        if timeout:
            data[base + 4] += 1

    def success(self, now: float) -> None:
        """``add(now, None)``, the common case, in fewer steps."""
        epoch = int(now // _BUCKET)
        base = (epoch % WINDOW_BUCKETS) * _FIELDS
        data = self._data
        if data[base] == epoch:
            data[base + 1] += 1
        else:
            data[base : base + _FIELDS] = (epoch, 1, 0, 0, 0)

    def rates(self, now: float) -> tuple[float, float, float]:
        """(failure share, rate-limit share, timeout share) of the attempts in the window."""
        oldest = int(now // _BUCKET) - WINDOW_BUCKETS + 1
        attempts = failures = limited = timeouts = 0
        data = self._data
        for base in range(0, WINDOW_BUCKETS * _FIELDS, _FIELDS):
            if data[base] >= oldest:
                attempts += data[base + 1]
                failures += data[base + 2]
                limited += data[base + 3]
                timeouts += data[base + 4]
        if not attempts:
            return 0.0, 0.0, 0.0
        return failures / attempts, limited / attempts, timeouts / attempts


class ModelHealth:
    """What is known of one key for one model, where the provider limits per model: a cooldown and the latest
    rate-limit reading."""

    __slots__ = (
        "cooldown_failure",
        "cooldown_told",
        "cooldown_until",
        "remaining_requests",
        "remaining_tokens",
        "requests_reset_at",
        "tokens_reset_at",
    )

    def __init__(self) -> None:
        self.cooldown_until = 0.0
        self.cooldown_failure: Failure | None = None
        self.cooldown_told = False
        self.remaining_requests: int | None = None
        self.remaining_tokens: int | None = None
        self.requests_reset_at: float | None = None
        self.tokens_reset_at: float | None = None


class Health:
    """Mutable health of one key; shared by every pool of the same scope holding the key, guarded by that scope's
    lock. Key-wide state lives here; per-model cooldowns and readings in ``models``."""

    __slots__ = (
        "__weakref__",
        "cooldown_failure",
        "cooldown_told",
        "cooldown_until",
        "disabled_reason",
        "failures",
        "in_flight",
        "last_failure",
        "last_used",
        "models",
        "remaining_requests",
        "remaining_tokens",
        "requests",
        "requests_reset_at",
        "successes",
        "timeouts",
        "tokens_reset_at",
        "window",
    )

    def __init__(self) -> None:
        self.cooldown_until = 0.0
        self.cooldown_failure: Failure | None = None
        self.cooldown_told = False  # the cooldown's end came from the provider (not a default of ours)
        self.disabled_reason: str | None = None
        self.requests = 0
        self.successes = 0
        self.timeouts = 0
        self.in_flight = 0
        self.failures: dict[Failure, int] = {}
        self.last_failure: Failure | None = None
        self.last_used: float | None = None
        self.remaining_requests: int | None = None
        self.remaining_tokens: int | None = None
        self.requests_reset_at: float | None = None
        self.tokens_reset_at: float | None = None
        self.window: Window | None = None  # allocated on first attempt: idle keys stay small
        self.models: dict[str, ModelHealth] | None = None  # allocated on the first per-model reading

    def model(self, name: str) -> ModelHealth:
        """The per-model record for ``name``, created on first use."""
        models = self.models
        if models is None:
            models = self.models = {}
        found = models.get(name)
        if found is None:
            found = models[name] = ModelHealth()
        return found

    def cooling_models(self, now: float) -> dict[str, ModelHealth]:
        """The models this key is cooling for at ``now``."""
        if not self.models:
            return {}
        return {name: m for name, m in self.models.items() if m.cooldown_until > now}

    def succeeded(self, now: float) -> None:
        """A success at ``now``: counted, and in the window."""
        self.successes += 1
        window = self.window
        if window is None:
            window = self.window = Window()
        window.success(now)

    def record(self, now: float, failure: Failure | None, timeout: bool = False) -> None:
        window = self.window
        if window is None:
            window = self.window = Window()
        window.add(now, failure, timeout)

    def rates(self, now: float) -> tuple[float, float, float]:
        return self.window.rates(now) if self.window is not None else (0.0, 0.0, 0.0)
