/**
 * Span export over OTLP/HTTP (`--otlp-endpoint URL`): the node's spans (every payment, HTLC and
 * forward, `src/actors/Payments.ts`; ARCHITECTURE.md "Observability") go to an OpenTelemetry
 * collector or any OTLP/HTTP endpoint (Jaeger, Tempo...) through Effect's own exporter
 * (`effect/observability` `OtlpTracer`, JSON encoding, batched, flushed when the layer's scope
 * closes) over the platform's `fetch`. No dependency beyond `effect`.
 *
 * The layer provides the `Tracer` reference and nothing else: provide (or `provideMerge`) it
 * under everything whose spans should be exported.
 */
import { Duration, Layer, Tracer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpExporter, OtlpSerialization, OtlpTracer } from "effect/observability"

export interface OtlpTracingOptions {
  /**
   * The collector: a base URL (`http://localhost:4318`, the OTLP/HTTP default port), to which
   * `/v1/traces` is appended as OpenTelemetry's `OTEL_EXPORTER_OTLP_ENDPOINT` does, or a URL
   * whose path already ends with `/v1/traces`.
   */
  readonly endpoint: string
  /** `service.name` of the resource (default `effect-lightning`). */
  readonly serviceName?: string
  /** More resource attributes (e.g. the node id). */
  readonly attributes?: Record<string, unknown>
  /** How often batches are sent (default 5 s); the rest goes when the scope closes. */
  readonly exportIntervalMillis?: number
}

/** The traces URL of an endpoint (see `OtlpTracingOptions.endpoint`; an http(s) URL, as `--otlp-endpoint` checks). */
export const tracesUrl = (endpoint: string): string => {
  const url = new URL(endpoint)
  if (!url.pathname.endsWith("/v1/traces")) url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`
  return url.toString()
}

/** The OTLP tracer as the `Tracer` reference (its batches flushed when the layer's scope closes). */
export const layer = (options: OtlpTracingOptions): Layer.Layer<never> =>
  Layer.effect(
    Tracer.Tracer,
    OtlpTracer.make({
      url: tracesUrl(options.endpoint),
      resource: {
        serviceName: options.serviceName ?? "effect-lightning",
        ...(options.attributes === undefined ? {} : { attributes: options.attributes })
      },
      exportInterval: Duration.millis(options.exportIntervalMillis ?? 5_000)
    })
  ).pipe(Layer.provide(Layer.mergeAll(OtlpExporter.layerFlusher, OtlpSerialization.layerJson, FetchHttpClient.layer)))
