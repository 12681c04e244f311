/** Builds in-memory nodes for the simulation tests: one seed per node decides keys and randomness. */
import { Effect, Layer, type Scope, Stream } from "effect"
import * as PeerManager from "../../src/actors/PeerManager.ts"
import type { PeerEvent } from "../../src/actors/PeerEvent.ts"
import type { MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { seededEntropy } from "../../src/layers/test/SeededEntropy.ts"
import { seededNodeSigner } from "../../src/layers/test/SeededNodeSigner.ts"

export const PORT = 9735

export const startNode = (
  net: MemoryNetwork,
  name: string,
  host: string,
  config: PeerManager.PeerManagerConfig = {}
): Effect.Effect<PeerManager.PeerManagerShape, never, Scope.Scope> =>
  PeerManager.make({ listen: { host, port: PORT }, ...config }).pipe(
    Effect.provide(Layer.mergeAll(net.layer(host), seededEntropy(name), seededNodeSigner(name))),
    Effect.orDie
  )

/** Collects the next `n` events of a node, subscribing before returning. */
export const nextEvents = (node: PeerManager.PeerManagerShape, n: number) =>
  Effect.gen(function*() {
    const stream = yield* node.subscribe
    return yield* Effect.forkScoped(stream.pipe(Stream.take(n), Stream.runCollect))
  })

export type { PeerEvent }
