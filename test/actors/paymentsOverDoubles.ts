/** The services a Payments actor needs around a channel manager double: a node signer, seeded entropy, a store in memory, no routes. */
import { Effect, Layer, type Queue, Stream } from "effect"
import { ChannelManager, type ChannelManagerShape, type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import { makeSeededEntropy } from "../../src/layers/test/SeededEntropy.ts"
import { Entropy } from "../../src/services/Entropy.ts"
import { NodeSigner, type NodeSignerShape } from "../../src/services/NodeSigner.ts"
import { Router } from "../../src/services/Router.ts"
import { Store } from "../../src/services/Store.ts"

export const paymentsOverDoubles = (manager: ChannelManagerShape, signer: NodeSignerShape, entropyTag: string) =>
  Layer.mergeAll(
    Layer.succeed(ChannelManager, manager),
    Layer.succeed(NodeSigner, signer),
    Layer.succeed(Entropy, makeSeededEntropy(entropyTag)),
    Layer.succeed(Store, makeMemoryStore().store),
    Layer.succeed(Router, Router.of({ findRoute: () => Effect.die(new Error("no routes here")), reportPath: () => Effect.void }))
  )

/**
 * A channel manager double whose events come from `inbox`: no channels, no monitor state, every
 * command not in `overrides` a defect (these tests do not use it).
 */
export const managerDouble = (inbox: Queue.Queue<NodeChannelEvent>, overrides: Partial<ChannelManagerShape>): ChannelManagerShape => {
  const unused = () => Effect.die(new Error("not used here"))
  return {
    openChannel: unused,
    fundChannel: unused,
    listChannels: Effect.succeed([]),
    channel: unused,
    monitorState: () => Effect.succeed(undefined),
    closeChannel: unused,
    forceClose: unused,
    addHtlc: unused,
    fulfillHtlc: unused,
    claimPreimage: unused,
    failHtlc: unused,
    failMalformedHtlc: unused,
    updateFee: unused,
    chainFact: unused,
    events: Stream.fromQueue(inbox),
    subscribe: Effect.succeed(Stream.fromQueue(inbox)),
    ...overrides
  }
}
