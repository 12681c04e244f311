import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { compareBytes, toHex } from "../../src/protocol/bytes.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { PORT, startNode } from "./nodes.ts"

describe("a mesh of nodes", () => {
  it.effect("six nodes all dial each other at once: each lists the five others over one connection each", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork({ delay: "5 millis" })
      const names = ["n0", "n1", "n2", "n3", "n4", "n5"]
      const nodes = yield* Effect.forEach(names, (name, i) => startNode(net, name, `10.0.1.${i}`))
      const dials = []
      for (let i = 0; i < nodes.length; i++) {
        for (let j = 0; j < nodes.length; j++) {
          const from = nodes[i]
          const to = nodes[j]
          if (i === j || from === undefined || to === undefined) continue
          dials.push(yield* Effect.forkChild(from.connect(to.nodeId, { host: `10.0.1.${j}`, port: PORT })))
        }
      }
      yield* TestClock.adjust("1 second")
      for (const d of dials) yield* Fiber.join(d)
      yield* TestClock.adjust("3 minutes") // several ping rounds over every link
      for (const node of nodes) {
        const peers = yield* node.peers
        assert.strictEqual(peers.length, names.length - 1)
        for (const p of peers) {
          // the connection kept is the one the lower node id initiated, as seen from both ends
          const weAreLower = compareBytes(node.nodeId, p.nodeId) < 0
          assert.strictEqual(p.direction, weAreLower ? "outbound" : "inbound", `${toHex(node.nodeId)} -> ${toHex(p.nodeId)}`)
        }
      }
    }))
})
