/**
 * OTLP export (`src/layers/observability/OtlpTracing.ts`, `--otlp-endpoint`): a 3-hop payment
 * over four of our nodes with the OTLP tracer installed; a local HTTP server stands in for the
 * collector and receives the spans (JSON, `POST /v1/traces`), all in the payment's trace.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, Fiber, FileSystem, Layer, Result } from "effect"
import { HttpServer } from "effect/http"
import { ControlApiServer } from "../../../src/api/ControlApiServer.ts"
import { apiToken, auth } from "../../api/harness.ts"
import * as NodeLive from "../../../src/node/NodeLive.ts"
import { createServer, type Server } from "node:http"
import { paymentTraceRoot } from "../../../src/actors/Payments.ts"
import { parseFlags } from "../../../src/daemon/NodeFlags.ts"
import * as OtlpTracing from "../../../src/layers/observability/OtlpTracing.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import { msat } from "../../../src/protocol/units.ts"
import { PaymentNet } from "../../sim/payments/PaymentNet.ts"

interface Received {
  readonly path: string
  readonly contentType: string | undefined
  readonly body: string
}

/** A local HTTP server recording every request (the collector). */
const collector = Effect.acquireRelease(
  Effect.callback<{ readonly server: Server; readonly url: string; readonly received: Array<Received> }>((resume) => {
    const received: Array<Received> = []
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        received.push({ path: req.url ?? "", contentType: req.headers["content-type"], body: Buffer.concat(chunks).toString("utf8") })
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, received }))
    })
  }),
  ({ server }) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
)

interface OtlpValue {
  readonly stringValue?: string
  readonly intValue?: number | string
}
interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }>
  readonly links?: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
}
interface OtlpBody {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }> }
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpan> }>
  }>
}

const attr = (s: OtlpSpan, key: string): string | undefined => {
  const v = s.attributes.find((a) => a.key === key)?.value
  return v?.stringValue ?? (v?.intValue === undefined ? undefined : String(v.intValue))
}

describe("OTLP export", () => {
  it("--otlp-endpoint is parsed, and refused when not an http(s) URL", () => {
    const ok = parseFlags(["--otlp-endpoint", "http://127.0.0.1:4318"])
    assert.isTrue(Result.isSuccess(ok) && ok.success._tag === "Run" && ok.success.config.otlpEndpoint === "http://127.0.0.1:4318")
    const none = parseFlags([])
    assert.isTrue(Result.isSuccess(none) && none.success._tag === "Run" && none.success.config.otlpEndpoint === undefined)
    const bad = parseFlags(["--otlp-endpoint", "localhost:4318"])
    assert.isTrue(Result.isFailure(bad) && bad.failure.includes("--otlp-endpoint"))
    assert.strictEqual(OtlpTracing.tracesUrl("http://127.0.0.1:4318"), "http://127.0.0.1:4318/v1/traces")
    assert.strictEqual(OtlpTracing.tracesUrl("http://collector/otel/"), "http://collector/otel/v1/traces")
    assert.strictEqual(OtlpTracing.tracesUrl("http://collector/v1/traces"), "http://collector/v1/traces")
  })

  it.live("the spans of a 3-hop payment reach a local collector, in the payment's trace", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* collector
      let hash = ""
      // The tracer's scope closes at the end of this block: the exporter flushes what is left.
      yield* Effect.acquireUseRelease(PaymentNet.make("otlp", 4), (net) =>
        Effect.gen(function*() {
          for (let i = 0; i < 3; i++) yield* net.channel(i, i + 1)
          const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(10_000_000n), description: { text: "exported" } })
          hash = toHex(inv.paymentHash)
          const fiber = yield* Effect.forkChild(net.pay(0).pay(inv.invoice))
          yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
          yield* Fiber.join(fiber)
          yield* net.settle()
        }), (net) => net.shutdown).pipe(Effect.provide(OtlpTracing.layer({ endpoint: server.url, serviceName: "otlp-test", exportIntervalMillis: 60_000 })))

      const posts = server.received.filter((r) => r.path === "/v1/traces")
      assert.isAbove(posts.length, 0, "the exporter posted to /v1/traces")
      assert.isTrue(posts.every((p) => p.contentType?.includes("json") === true))
      const bodies = posts.map((p) => JSON.parse(p.body) as OtlpBody)
      const service = bodies[0]!.resourceSpans[0]!.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue
      assert.strictEqual(service, "otlp-test")
      const spans = bodies.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)))
      const ofPayment = spans.filter((s) => attr(s, "payment.hash") === hash)
      const names = ofPayment.map((s) => s.name).sort()
      assert.deepStrictEqual(names, [
        "payments.attempt",
        "payments.attempt.resolved",
        "payments.forward",
        "payments.forward",
        "payments.forward.resolved",
        "payments.forward.resolved",
        "payments.pay",
        "payments.payment",
        "payments.receive"
      ])
      const root = paymentTraceRoot(Buffer.from(hash, "hex"))
      for (const s of ofPayment) assert.strictEqual(s.traceId, root.traceId, `${s.name} is in the payment's trace`)
      const pay = ofPayment.find((s) => s.name === "payments.pay")!
      assert.strictEqual(pay.parentSpanId, root.spanId)
      assert.strictEqual(attr(pay, "payment.outcome"), "succeeded")
      const payment = ofPayment.find((s) => s.name === "payments.payment")!
      assert.strictEqual(payment.parentSpanId, pay.spanId)
      assert.strictEqual(ofPayment.find((s) => s.name === "payments.attempt")!.parentSpanId, payment.spanId)
    })))

  it.live("NodeLive with otlpEndpoint: a keysend through the control API is exported", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* collector
      const payee = "02".padEnd(66, "1")
      yield* Effect.scoped(Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-node-otlp-" })
        // As the daemon builds it (src/daemon/NodeDaemon.ts): the API over NodeLive, which provides the tracer.
        const context = yield* Layer.build(
          ControlApiServer({ host: "127.0.0.1", port: 0, token: apiToken, logRequests: false }).pipe(
            Layer.provideMerge(NodeLive.layer({ dataDir, otlpEndpoint: server.url }))
          )
        )
        const address = Context.get(context, HttpServer.HttpServer).address
        if (address._tag === "UnixPathAddress") return assert.fail("unexpected unix address")
        // No channel: the keysend fails at once (no route), in its span.
        const status = yield* Effect.promise(async () => {
          const res = await fetch(`http://127.0.0.1:${address.port}/v1/payments`, {
            method: "POST",
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify({ keysend: { nodeId: payee, amountMsat: "1000" } })
          })
          await res.text()
          return res.status
        })
        assert.isAtLeast(status, 400)
      }))
      const spans = server.received
        .filter((r) => r.path === "/v1/traces")
        .flatMap((p) => (JSON.parse(p.body) as OtlpBody).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((x) => x.spans)))
      // The payment's span, a child of the HTTP request's span (the API starts the payment and awaits it).
      const payment = spans.filter((s) => s.name === "payments.payment")
      assert.strictEqual(payment.length, 1, spans.map((s) => s.name).join(", "))
      assert.strictEqual(attr(payment[0]!, "payment.payee"), payee)
      assert.isTrue(attr(payment[0]!, "payment.outcome")?.startsWith("failed: NoRoute") === true, attr(payment[0]!, "payment.outcome"))
      const post = spans.find((s) => s.spanId === payment[0]!.parentSpanId)
      assert.strictEqual(post?.name, "POST")
      // ...and linked to the payment's own trace (the one the forwarders' and payee's spans are in).
      const hashHex = attr(payment[0]!, "payment.hash") ?? ""
      assert.strictEqual(hashHex.length, 64)
      assert.deepStrictEqual(payment[0]!.links?.map((l) => l.traceId), [paymentTraceRoot(Buffer.from(hashHex, "hex")).traceId])
    })).pipe(Effect.provide(NodeServices.layer)))
})
