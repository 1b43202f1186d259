"""OpenTelemetry traces: off unless ``GAS_TRACING_EXPORTER`` names an exporter.

One job's path across services is one trace. The W3C trace context travels in HTTP headers
(gateway → jobs) and in SNS/SQS message attributes (``traceparent``, ``tracestate``), which
SNS copies to the queues with raw delivery; every span about a job carries ``gas.job_id``,
the correlation id the logs use too. Exporters:

* ``otlp`` — OTLP over HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a collector, X-Ray, Tempo...);
* ``console`` — spans as JSON on standard output;
* ``jsonl:<folder>`` — one JSON line per span in ``<folder>/<service>-<pid>.jsonl`` (for
  tests and for looking at a local run).

Unset, the OpenTelemetry API's no-op tracer is used and tracing costs nothing.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

from gas_core.metrics import StatusRecorder, route_template

JOB_ID = "gas.job_id"
tracer = trace.get_tracer("gas")


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file as one JSON line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(json.loads(span.to_json())) + "\n" for span in spans]
        with self._lock, self._path.open("a") as handle:
            handle.writelines(lines)
        return SpanExportResult.SUCCESS


def configure_tracing(service: str, exporter: str | None) -> None:
    if not exporter:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"gas-{service}"}))
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter.startswith("jsonl:"):
        path = Path(exporter.removeprefix("jsonl:")) / f"{service}-{os.getpid()}.jsonl"
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    else:
        raise ValueError(
            f"GAS_TRACING_EXPORTER={exporter!r} is not one of otlp, console, jsonl:<folder>"
        )
    trace.set_tracer_provider(provider)


def inject(carrier: MutableMapping[str, str]) -> None:
    """Put the current trace context into ``carrier`` (HTTP headers, message attributes)."""
    propagate.inject(carrier)


def extract(carrier: Mapping[str, str]) -> Context:
    return propagate.extract(carrier)


class HttpTracing:
    """ASGI middleware: a server span per request, continuing the caller's trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        method = str(scope.get("method", ""))
        with tracer.start_as_current_span(
            f"{method} request", context=extract(headers), kind=SpanKind.SERVER
        ) as span:
            response = StatusRecorder(send)
            try:
                await self.app(scope, receive, response)
            finally:
                if route := route_template(scope):
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if job_id := scope.get("path_params", {}).get("job_id"):
                    span.set_attribute(JOB_ID, str(job_id))
                span.set_attribute("http.response.status_code", response.status)
