"""Observability: stats rendering (text, HTML, rich), the key-scrubbing log filter and OpenTelemetry events."""

from __future__ import annotations

import io
import logging
import sys
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from byok_client import logging as byok_logging
from byok_client._errors import MissingDependencyError
from byok_client._render import HEADERS, render_html, render_rich, render_text
from byok_client.core.keys import Key
from byok_client.core.policy import Attempt, Failure
from byok_client.events import (
    AttemptCompleted,
    FailedOver,
    KeyDisabled,
    KeyQuotaExhausted,
    KeyRateLimited,
    KeyRecovered,
    KeysReloaded,
    PoolExhausted,
)
from byok_client.logging import KeyScrubFilter, install_scrub_filter, register_keys
from byok_client.stats import ErrorRates, KeyStatus, PoolStats

# --- rendering -------------------------------------------------------------------------------------------------------

SUMMARY = "KeyPool: 3 keys (1 ready, 1 cooling, 1 disabled), strategy round_robin, scope tenant-a"


def _key(label: str, **overrides: Any) -> KeyStatus:
    fields: dict[str, Any] = {
        "label": label,
        "fingerprint": "1a2b3c4d",
        "state": "ready",
        "cooling_for": 0.0,
        "cooldown_reason": None,
        "disabled_reason": None,
        "requests": 0,
        "successes": 0,
    }
    fields.update(overrides)
    return KeyStatus(**fields)


def _stats(first_label: str = "primary") -> PoolStats:
    return PoolStats(
        keys=(
            _key(
                first_label,
                requests=12,
                successes=11,
                failures={Failure.RATE_LIMITED: 1},
                last_used_ago=3.14,
                in_flight=2,
                remaining_requests=499,
                remaining_tokens=149_000,
                error_rate=ErrorRates(total=0.083),
            ),
            _key(
                "backup",
                fingerprint="deadbeef",
                state="cooling",
                cooling_for=12.34,
                cooldown_reason=Failure.RATE_LIMITED,
                requests=4,
                successes=3,
                failures={Failure.RATE_LIMITED: 1},
                error_rate=ErrorRates(total=0.25, rate_limit=0.25),
            ),
            _key(
                "old",
                fingerprint="cafebabe",
                state="disabled",
                disabled_reason="invalid key (401)",
                requests=2,
                failures={Failure.INVALID_KEY: 1, Failure.SERVER_ERROR: 1},
                last_used_ago=4000.0,
            ),
        ),
        strategy="round_robin",
        scope="tenant-a",
    )


EXPECTED_ROWS = [
    ["primary", "1a2b3c4d", "ready", "12", "11", "1", "2", "499/149k", "8.3%", "3.1s ago"],
    ["backup", "deadbeef", "cooling 12.3s (rate_limited)", "4", "3", "1", "0", "-/-", "25.0%", "never"],
    ["old", "cafebabe", "disabled (invalid key (401))", "2", "0", "2", "0", "-/-", "0.0%", "1h06m ago"],
]


def _assert_cells_in_line(cells: list[str], line: str) -> None:
    """Every cell appears in ``line``, in column order."""
    position = 0
    for cell in cells:
        found = line.find(cell, position)
        assert found >= 0, f"{cell!r} not found in {line!r} after column {position}"
        position = found + len(cell)


def test_text_table_summary_header_and_rows() -> None:
    stats = _stats()
    text = render_text(stats)
    lines = text.splitlines()
    assert lines[0] == SUMMARY
    _assert_cells_in_line(list(HEADERS), lines[1])
    assert len(lines) == 2 + len(EXPECTED_ROWS)
    for cells, line in zip(EXPECTED_ROWS, lines[2:], strict=True):
        _assert_cells_in_line(cells, line)
    assert all(len(line) <= 100 for line in lines)
    assert str(stats) == text
    # Fixed-width columns: the fingerprints start at the same column on every row.
    assert len({line.index(fp) for line, fp in zip(lines[2:], ("1a2b", "dead", "cafe"), strict=True)}) == 1


def test_text_table_wraps_long_labels_and_states_instead_of_cutting_them() -> None:
    long_label = "team-search-production-" + "x" * 60
    stats = _stats(long_label)
    lines = render_text(stats).splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert "…" not in render_text(stats)
    # The label wraps over several lines of its first column; read down that column it is whole.
    label_width = len(lines[2].split()[0])
    assert long_label in "".join(line[:label_width].strip() for line in lines[2:])
    assert "cooling 12.3s (rate_limited)" in render_text(stats)
    assert repr(stats) == str(stats)  # the plain-text repr is the table


def test_text_table_edge_cases() -> None:
    empty = render_text(PoolStats(keys=()))
    assert empty.splitlines()[0] == "KeyPool: 0 keys (0 ready, 0 cooling, 0 disabled), strategy ordered"
    assert len(empty.splitlines()) == 2
    single = render_text(PoolStats(keys=(_key("a\nb", remaining_requests=5),), strategy="random"))
    lines = single.splitlines()
    assert lines[0] == "KeyPool: 1 key (1 ready, 0 cooling, 0 disabled), strategy random"
    assert len(lines) == 3  # the newline in the label does not break the row
    assert "a?b" in lines[2]
    assert "5/-" in lines[2]


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.start_tags: list[str] = []
        self.caption = ""
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.row_classes: list[str] = []
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.start_tags.append(tag)
        if tag == "tr" and dict(attrs).get("class"):
            self.row_classes.append(dict(attrs)["class"] or "")
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            (self.rows[-1] if tag == "td" else self.headers).append(text)
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.caption += data


def _parse(markup: str) -> _TableParser:
    parser = _TableParser()
    parser.feed(markup)
    parser.close()
    return parser


def test_html_table_has_same_cells_as_text() -> None:
    stats = _stats()
    parsed = _parse(render_html(stats))
    assert parsed.caption == SUMMARY
    assert parsed.headers == list(HEADERS)
    assert parsed.rows == EXPECTED_ROWS
    assert parsed.row_classes == ["byok-ready", "byok-cooling", "byok-disabled"]
    assert {"table", "thead", "tbody", "caption", "style"} <= set(parsed.start_tags)
    assert stats._repr_html_() == render_html(stats)
    for cells, line in zip(parsed.rows, render_text(stats).splitlines()[2:], strict=True):
        _assert_cells_in_line(cells, line)


def test_html_escapes_labels() -> None:
    label = "<script>alert('x')</script>"
    markup = render_html(_stats(label))
    parsed = _parse(markup)
    assert "script" not in parsed.start_tags
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    assert parsed.rows[0][0] == label
    long = _parse(render_html(_stats("y" * 40)))
    assert long.rows[0][0] == "y" * 40  # whole: the browser wraps


def test_rich_table_renders_and_colours_states() -> None:
    from rich.console import Console
    from rich.table import Table

    stats = _stats("[bold]primary[/bold]")  # markup in a label is shown as text, not interpreted
    table = render_rich(stats)
    assert isinstance(table, Table)
    console = Console(record=True, width=120)
    console.print(table)
    text = console.export_text()
    assert SUMMARY in text
    assert "[bold]primary[/bold]" in text
    assert "cooling 12.3s (rate_limited)" in text
    assert "disabled (invalid key (401))" in text
    colours = {}
    for segment in console.render(table):
        if segment.style is not None and segment.style.color is not None:
            colours[segment.text.strip()] = segment.style.color.name
    assert colours["ready"] == "green"
    assert colours["cooling 12.3s (rate_limited)"] == "yellow"
    assert colours["disabled (invalid key (401))"] == "red"
    assert isinstance(stats.__rich__(), Table)


def test_rich_falls_back_to_text_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "rich" or n.startswith("rich.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "rich", None)
    stats = _stats()
    assert render_rich(stats) == render_text(stats)


# --- log scrubbing ---------------------------------------------------------------------------------------------------

OPENAI_VALUE = "sk-proj-ABCDEF0123456789abcdef0123456789"
GEMINI_VALUE = "AIzaSyA-1234567890abcdefghijklmnopqrstu"


@pytest.fixture
def registry() -> Iterator[None]:
    byok_logging._reset_registry()
    yield
    byok_logging._reset_registry()


@pytest.fixture
def scrubbed_logger(registry: None) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    logger = logging.getLogger(f"byok_test.scrub.{uuid.uuid4().hex}")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    install_scrub_filter(logger)
    yield logger, stream
    logger.removeHandler(handler)


def test_scrub_filter_replaces_values_with_labels(scrubbed_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = scrubbed_logger
    held = [Key(OPENAI_VALUE, "openai-main"), Key(GEMINI_VALUE, "gemini-main")]  # as a pool holds its keys
    register_keys(held)
    logger.info("using %s for %s", OPENAI_VALUE, "chat")
    logger.warning(f"header Authorization: Bearer {OPENAI_VALUE}")
    try:
        raise RuntimeError(f"upstream rejected {GEMINI_VALUE}")
    except RuntimeError:
        logger.exception("request failed")
    logger.info("GET https://generativelanguage.googleapis.com/v1beta/models?key=%s&alt=sse", GEMINI_VALUE)
    logger.info("GET https://example.test/x?alt=sse&key=AIzaUNREGISTERED0000000000 done")
    logger.info("plain 'https://example.test/y?key=zzz' quoted")
    output = stream.getvalue()
    assert OPENAI_VALUE not in output
    assert GEMINI_VALUE not in output
    assert "AIzaUNREGISTERED" not in output
    assert "zzz" not in output
    assert "using [key:openai-main] for chat" in output
    assert "Bearer [key:openai-main]" in output
    assert "RuntimeError: upstream rejected [key:gemini-main]" in output
    assert "Traceback" in output
    assert "models?key=[key:gemini-main]&alt=sse" in output
    assert "?alt=sse&key=*** done" in output
    assert "?key=***' quoted" in output


def test_scrubbed_record_is_formatted_once(registry: None) -> None:
    held = [Key(OPENAI_VALUE, "openai-main")]
    register_keys(held)
    records: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(f"byok_test.capture.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(Capture())
    logger.addFilter(KeyScrubFilter())
    try:
        raise ValueError(OPENAI_VALUE)
    except ValueError:
        logger.error("key %s failed", OPENAI_VALUE, exc_info=True)
    (record,) = records
    assert record.msg == "key [key:openai-main] failed"
    assert record.args == ()
    assert record.exc_info is None
    assert record.exc_text is not None
    assert "ValueError: [key:openai-main]" in record.exc_text
    assert OPENAI_VALUE not in record.exc_text


def test_scrub_filter_without_registered_keys_is_a_no_op(registry: None) -> None:
    scrub = KeyScrubFilter()
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "value %s and %d", ("sk-abc", 3), None)
    assert scrub.filter(record) is True
    assert record.msg == "value %s and %d"
    assert record.args == ("sk-abc", 3)
    assert record.getMessage() == "value sk-abc and 3"


def test_scrub_filter_never_raises(registry: None) -> None:
    held = [Key(OPENAI_VALUE, "openai-main")]
    register_keys(held)
    scrub = KeyScrubFilter()
    broken = logging.LogRecord("t", logging.INFO, __file__, 1, "%d", ("not a number",), None)
    assert scrub.filter(broken) is True
    assert broken.msg == "%d"


def test_install_scrub_filter_is_idempotent() -> None:
    logger = logging.getLogger(f"byok_test.install.{uuid.uuid4().hex}")
    first = install_scrub_filter(logger)
    assert install_scrub_filter(logger) is first
    assert logger.filters == [first]
    library = logging.getLogger("byok_client")
    try:
        default = install_scrub_filter()
        assert default in library.filters
        assert install_scrub_filter() is default
    finally:
        library.removeFilter(default)


def test_registry_changes_rebuild_the_pattern(registry: None) -> None:
    scrub = KeyScrubFilter()
    assert scrub.scrub(f"x {OPENAI_VALUE}") == f"x {OPENAI_VALUE}"
    first = [Key(OPENAI_VALUE, "first")]
    register_keys(first)
    assert scrub.scrub(f"x {OPENAI_VALUE}") == "x [key:first]"
    renamed = [Key(OPENAI_VALUE, "renamed")]
    register_keys(renamed)
    assert scrub.scrub(f"x {OPENAI_VALUE}") == "x [key:renamed]"
    # Regex metacharacters in a value are literal; a longer value wins over its own prefix.
    odd = [Key("sk.+*?(x)", "special"), Key("sk-prefix", "short"), Key("sk-prefix-longer", "long")]
    register_keys(odd)
    assert scrub.scrub("a sk.+*?(x) b skX+*?(x)") == "a [key:special] b skX+*?(x)"
    assert scrub.scrub("sk-prefix-longer sk-prefix") == "[key:long] [key:short]"


def test_registry_forgets_keys_nobody_holds(registry: None) -> None:
    import gc

    kept = [Key("sk-held-0123456789", "held")]
    register_keys([*kept, Key("sk-dropped-0123456789", "dropped")])
    gc.collect()
    scrub = KeyScrubFilter()
    assert scrub.scrub("sk-held-0123456789 sk-dropped-0123456789") == "[key:held] sk-dropped-0123456789"
    assert scrub.scrub("a key at the end sk-held-0123456789.") == "a key at the end [key:held]."


def test_scrub_filter_with_ten_thousand_keys(registry: None) -> None:
    keys = [Key(f"sk-{i:05d}-{uuid.UUID(int=i * 7919).hex}", f"key{i}") for i in range(10_000)]
    register_keys(keys)
    scrub = KeyScrubFilter()
    target = keys[7777].get_secret_value()
    assert scrub.scrub(f"picked {target} after sk-00001 failed") == "picked [key:key7777] after sk-00001 failed"
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "no key here, %d attempts", (3,), None)
    assert scrub.filter(record) is True
    assert record.getMessage() == "no key here, 3 attempts"


# --- OpenTelemetry ---------------------------------------------------------------------------------------------------


def _counter_points(reader: Any) -> dict[str, dict[frozenset[tuple[str, Any]], int]]:
    points: dict[str, dict[frozenset[tuple[str, Any]], int]] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points[metric.name] = {
                    frozenset(point.attributes.items()): point.value for point in metric.data.data_points
                }
    return points


def test_opentelemetry_events_record_metrics_and_span_events() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from byok_client.otel import OpenTelemetryEvents

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    on_event = OpenTelemetryEvents(meter_provider=meter_provider, tracer_provider=tracer_provider)

    with tracer_provider.get_tracer("test").start_as_current_span("request"):
        on_event(AttemptCompleted("openai", "primary", status=200, outcome="success"))
        on_event(AttemptCompleted("openai", "primary", status=200, outcome="success"))
        on_event(
            AttemptCompleted("openai", "primary", Failure.RATE_LIMITED, status=429, outcome="rate_limited"),
        )
        on_event(KeyRateLimited("openai", "primary", Failure.RATE_LIMITED, cooldown=20.0, path="/v1/chat"))
        on_event(KeyQuotaExhausted("openai", "backup", Failure.QUOTA_EXHAUSTED, cooldown=3600.0))
        on_event(KeyDisabled("openai", "old", Failure.INVALID_KEY, reason="401"))
        on_event(KeyRecovered("openai", "primary"))
        on_event(
            FailedOver(
                "openai",
                "primary",
                Failure.RATE_LIMITED,
                path="/v1/chat/completions?key=secret",
                to_label="backup",
                status=429,
            )
        )
        on_event(
            PoolExhausted(
                "gemini",
                path="/v1beta/models/m:generateContent",
                attempts=(Attempt("a", 429, Failure.RATE_LIMITED), Attempt("b", 429, Failure.RATE_LIMITED)),
                retry_after=7.5,
            )
        )
        on_event(KeysReloaded("openai", labels=("primary",)))  # ignored
        on_event(object())  # type: ignore[arg-type]  # unknown: ignored

    points = _counter_points(reader)
    assert points["byok.attempts"] == {
        frozenset({"byok.provider": "openai", "byok.key": "primary", "byok.outcome": "success"}.items()): 2,
        frozenset({"byok.provider": "openai", "byok.key": "primary", "byok.outcome": "rate_limited"}.items()): 1,
    }
    transitions = {dict(attributes)["byok.event"]: n for attributes, n in points["byok.key_transitions"].items()}
    assert transitions == {"KeyRateLimited": 1, "KeyQuotaExhausted": 1, "KeyDisabled": 1, "KeyRecovered": 1}
    keys = {dict(attributes)["byok.key"] for attributes in points["byok.key_transitions"]}
    assert keys == {"primary", "backup", "old"}

    (span,) = exporter.get_finished_spans()
    events = {event.name: dict(event.attributes or {}) for event in span.events}
    assert set(events) == {"byok.failover", "byok.pool_exhausted"}
    assert events["byok.failover"] == {
        "byok.provider": "openai",
        "byok.from": "primary",
        "byok.to": "backup",
        "byok.failure": "rate_limited",
        "byok.status": 429,
        "byok.path": "/v1/chat/completions",
    }
    exhausted = events["byok.pool_exhausted"]
    assert exhausted["byok.provider"] == "gemini"
    assert exhausted["byok.attempts"] == 2
    assert exhausted["byok.keys"] == ("a", "b")
    assert exhausted["byok.retry_after"] == 7.5


def test_opentelemetry_events_never_raise() -> None:
    from byok_client.otel import OpenTelemetryEvents

    on_event = OpenTelemetryEvents()

    class Broken:
        def add(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("exporter down")

    on_event._attempts = Broken()  # type: ignore[assignment]
    on_event(AttemptCompleted("openai", "primary"))
    on_event(FailedOver("openai", "primary", to_label="backup"))  # no current span: nothing to do


def test_opentelemetry_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    from byok_client.otel import OpenTelemetryEvents

    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(MissingDependencyError) as info:
        OpenTelemetryEvents()
    assert info.value.extra == "otel"
    assert info.value.package == "opentelemetry-api"
