"""OpenTelemetry metrics and span events from pool events: ``on_event=OpenTelemetryEvents()``.

Needs the ``otel`` extra (``opentelemetry-api``). Attributes carry key labels, never key values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import MissingDependencyError
from .events import (
    AttemptCompleted,
    FailedOver,
    KeyDisabled,
    KeyQuotaExhausted,
    KeyRateLimited,
    KeyRecovered,
    PoolCapacityLow,
    PoolCapacityRestored,
    PoolEvent,
    PoolExhausted,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider
    from opentelemetry.util.types import AttributeValue

__all__ = ["OpenTelemetryEvents"]

_SCOPE = "byok_client"
_TRANSITIONS = (KeyRateLimited, KeyQuotaExhausted, KeyDisabled, KeyRecovered)


def _path(path: str) -> str:
    """The request path without its query string (which may hold a ``key=`` parameter)."""
    return path.split("?", 1)[0]


class OpenTelemetryEvents:
    """An ``on_event=`` callback that records pool events with OpenTelemetry.

    - counter ``byok.attempts``: one per ``AttemptCompleted``, with ``byok.provider``, ``byok.key`` (the label)
      and ``byok.outcome``;
    - counter ``byok.key_transitions``: one per ``KeyRateLimited``/``KeyQuotaExhausted``/``KeyDisabled``/
      ``KeyRecovered``, with ``byok.event`` (the class name), ``byok.provider`` and ``byok.key``;
    - counter ``byok.capacity_alerts``: one per ``PoolCapacityLow``/``PoolCapacityRestored``, with ``byok.event``
      and ``byok.provider``; up-down counter ``byok.capacity_low``: 1 while a low-capacity episode lasts;
    - span events ``byok.failover`` (``FailedOver``) and ``byok.pool_exhausted`` (``PoolExhausted``) on the current
      span.

    ``meter_provider``/``tracer_provider`` default to the global providers. Other events are ignored, and the
    callback never raises. Raises ``MissingDependencyError`` when ``opentelemetry-api`` is not installed.
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:
            raise MissingDependencyError("opentelemetry-api", "otel") from exc
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        # Span events go to whichever span is current; the tracer is there for callers that want one.
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        self._get_current_span = trace.get_current_span
        self._attempts = meter.create_counter(
            "byok.attempts", unit="1", description="Attempts sent with a pool key, by provider, key and outcome"
        )
        self._transitions = meter.create_counter(
            "byok.key_transitions", unit="1", description="Key state transitions, by event, provider and key"
        )
        self._capacity_alerts = meter.create_counter(
            "byok.capacity_alerts", unit="1", description="Pool capacity low / restored episodes, by provider"
        )
        self._capacity_low = meter.create_up_down_counter(
            "byok.capacity_low", unit="1", description="Pools in a low-capacity episode, by provider"
        )

    def __call__(self, event: PoolEvent) -> None:
        """Record ``event``; never raises."""
        try:
            self._record(event)
        except Exception:
            return  # telemetry must never break a request

    def _record(self, event: PoolEvent) -> None:
        if isinstance(event, AttemptCompleted):
            self._attempts.add(
                1,
                {"byok.provider": event.provider, "byok.key": event.key_label, "byok.outcome": event.outcome},
            )
        elif isinstance(event, _TRANSITIONS):
            self._transitions.add(
                1,
                {"byok.event": type(event).__name__, "byok.provider": event.provider, "byok.key": event.key_label},
            )
        elif isinstance(event, PoolCapacityLow | PoolCapacityRestored):
            attrs: dict[str, AttributeValue] = {"byok.event": type(event).__name__, "byok.provider": event.provider}
            self._capacity_alerts.add(1, attrs)
            self._capacity_low.add(1 if isinstance(event, PoolCapacityLow) else -1, {"byok.provider": event.provider})
        elif isinstance(event, FailedOver):
            self._span_event("byok.failover", self._failover_attributes(event))
        elif isinstance(event, PoolExhausted):
            attributes: dict[str, AttributeValue] = {
                "byok.provider": event.provider,
                "byok.path": _path(event.path),
                "byok.attempts": len(event.attempts),
                "byok.keys": [attempt.key_label for attempt in event.attempts],
            }
            if event.retry_after is not None:
                attributes["byok.retry_after"] = float(event.retry_after)
            self._span_event("byok.pool_exhausted", attributes)

    @staticmethod
    def _failover_attributes(event: FailedOver) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {
            "byok.provider": event.provider,
            "byok.from": event.key_label,
            "byok.to": event.to_label,
            "byok.status": event.status,
            "byok.path": _path(event.path),
        }
        if event.failure is not None:
            attributes["byok.failure"] = str(event.failure)
        return attributes

    def _span_event(self, name: str, attributes: dict[str, AttributeValue]) -> None:
        span = self._get_current_span()
        if span.is_recording():
            span.add_event(name, attributes)
