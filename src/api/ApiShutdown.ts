/**
 * The control API server's shutdown signal, for long-lived responses (the Server-Sent Events of
 * `GET /v1/channels/events`). On shutdown the HTTP server waits (up to 20 s) for open responses
 * to finish before it interrupts them; an event stream never finishes on its own, so the
 * server (`ControlApiServer`) completes this `Deferred` first and the streams end at once.
 *
 * A `Context.Reference`: without a server (routes mounted elsewhere) it is a `Deferred` that
 * never completes, and streams end when their client goes away.
 */
import { Context, Deferred, Effect, Layer } from "effect"

const ApiShutdownReference = Context.Reference<Deferred.Deferred<void>>("effect-lightning/ApiShutdown", {
  defaultValue: () => Deferred.makeUnsafe<void>()
})

/** The reference, with its layers `ApiShutdown.layer` and `ApiShutdown.layerSignal`. */
export const ApiShutdown = Object.assign(ApiShutdownReference, {
  /** A fresh signal for one server. */
  layer: Layer.effect(ApiShutdownReference, Deferred.make<void>()),
  /** Completes the signal when this layer's scope closes: build it after the server so that it closes before it. */
  layerSignal: Layer.effectDiscard(
    Effect.flatMap(ApiShutdownReference, (shutdown) => Effect.addFinalizer(() => Deferred.succeed(shutdown, undefined)))
  )
})
