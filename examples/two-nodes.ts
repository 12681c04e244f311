// Two Lightning nodes in one Effect program, talking BOLT 8 + BOLT 1 over TCP on 127.0.0.1.
// Run: node_modules/.bin/node examples/two-nodes.ts   (imports are relative to examples/)
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Context, Effect, FileSystem, Layer, Option, Stream } from "effect"
import * as PeerManager from "../src/actors/PeerManager.ts"
import { OsEntropy, SeedFileSigner, TcpTransport } from "../src/layers/node/index.ts"
import { SeededNodeSigner } from "../src/layers/test/index.ts"
import { toHex } from "../src/protocol/bytes.ts"

// A node is the peer registry over three services: Entropy, NodeSigner and Transport.
const listen = { host: "127.0.0.1", port: 0 } // port 0: any free port

// Production services: OS randomness, TCP, and a node key from <dataDir>/node_seed.
const productionNode = (dataDir: string) =>
  PeerManager.layer({ listen }).pipe(
    Layer.provide(Layer.mergeAll(
      OsEntropy.layer,
      TcpTransport.layer(),
      SeedFileSigner.layer(dataDir).pipe(Layer.provide(Layer.merge(NodeServices.layer, OsEntropy.layer)))
    ))
  )

// Swap one layer: the same node with a key derived from a fixed test seed.
const fixedKeyNode = (seed: string) =>
  PeerManager.layer({ listen }).pipe(
    Layer.provide(Layer.mergeAll(OsEntropy.layer, TcpTransport.layer(), SeededNodeSigner.layer(seed)))
  )

export const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dataDir = yield* fs.makeTempDirectoryScoped()
  // Two instances of the same service in one program: build each layer in this scope.
  const alice = Context.get(yield* Layer.build(productionNode(dataDir)), PeerManager.PeerManager)
  const bob = Context.get(yield* Layer.build(fixedKeyNode("bob")), PeerManager.PeerManager)
  if (bob.listenAddress === undefined) return yield* Effect.die("bob is not listening")

  const bobEvents = yield* bob.subscribe
  const peer = yield* alice.connect(bob.nodeId, bob.listenAddress) // handshake + init done
  const event = yield* Stream.runHead(bobEvents) // Option<PeerEvent>
  yield* Console.log(`alice ${toHex(alice.nodeId)} -> bob ${toHex(peer.nodeId)}`)
  yield* Console.log(`negotiated feature bits: ${peer.negotiatedFeatures.join(", ")}`)
  yield* Console.log(`bob's first event: ${Option.match(event, { onNone: () => "none", onSome: (e) => e._tag })}`)
  yield* alice.disconnect(bob.nodeId)
  return peer
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer)) // closing the scope stops both nodes

if (import.meta.main) NodeRuntime.runMain(program)
