/** Builds in-memory nodes for the simulation tests: one seed per node decides keys and randomness. */
import { Effect, Layer, Queue, Result, type Scope, Stream } from "effect"
import * as PeerManager from "../../src/actors/PeerManager.ts"
import type { PeerEvent, PeerSessionEvent } from "../../src/actors/PeerEvent.ts"
import { type LightningMessage, LightningMessages } from "../../src/protocol/messages/index.ts"
import type { MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"

export const PORT = 9735

export const startNode = (
  net: MemoryNetwork,
  name: string,
  host: string,
  config: PeerManager.PeerManagerConfig = {}
): Effect.Effect<PeerManager.PeerManagerShape, never, Scope.Scope> =>
  PeerManager.make({ listen: { host, port: PORT }, ...config }).pipe(
    Effect.provide(Layer.mergeAll(net.layer(host), SeededEntropy.layer(name), SeededNodeSigner.layer(name))),
    Effect.orDie
  )

/** Collects the next `n` events of a node, subscribing before returning. */
export const nextEvents = (node: PeerManager.PeerManagerShape, n: number) =>
  Effect.gen(function*() {
    const stream = yield* node.subscribe
    return yield* Effect.forkScoped(stream.pipe(Stream.take(n), Stream.runCollect))
  })

/** Runs `handle` on each session event of `node`, in the background (the test's scope). */
export const consumeSessions = <E>(node: PeerManager.PeerManagerShape, handle: (event: PeerSessionEvent) => Effect.Effect<void, E>) =>
  Effect.forkScoped(Stream.runForEach(node.sessionEvents, handle))

/** The session events of `node` into a queue the test takes from (bounded: a full one slows the node). */
export const sessionInbox = (node: PeerManager.PeerManagerShape, capacity = 64) =>
  Effect.gen(function*() {
    const inbox = yield* Queue.bounded<PeerSessionEvent>(capacity)
    yield* consumeSessions(node, (e) => Queue.offer(inbox, e))
    return inbox
  })

/** Encodes one of the node's messages (tests build valid ones). */
export const encodeMessage = (m: LightningMessage): Uint8Array => {
  const r = LightningMessages.encode(m)
  if (Result.isFailure(r)) throw new Error(`encode ${m._tag}: ${r.failure.reason}`)
  return r.success
}

export type { PeerEvent, PeerSessionEvent }
