/**
 * The gossip fuzz target (fuzz/targets/gossip.ts) reaches what it is meant to fuzz: its seeds are
 * whole valid gossip that the graph stores (so mutations of them get past decoding and the
 * signature checks into the graph's storage), and its checks catch a broken graph. The short CI
 * run of the target itself is in test/fuzz/targets.test.ts; longer: `npm run fuzz -- gossip 60`.
 */
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import { runInputs } from "../../fuzz/engine.ts"
import { fuzz, seeds } from "../../fuzz/targets/gossip.ts"
import { CompactGraph } from "../../src/layers/graph/CompactGraph.ts"
import { ChainHashes } from "../../src/protocol/messages/index.ts"
import { insecureSecp256k1 } from "../../src/testing/InsecureCrypto.ts"

const framesOf = (data: Uint8Array): ReadonlyArray<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let at = 0; at + 2 <= data.length;) {
    const length = ((data[at] ?? 0) << 8) | (data[at + 1] ?? 0)
    out.push(data.subarray(at + 2, at + 2 + length))
    at += 2 + length
  }
  return out
}

describe("gossip fuzz target", () => {
  it("its first seed is a channel, both updates and a node announcement the graph accepts", () => {
    const graph = new CompactGraph({ context: { secp: insecureSecp256k1, chainHash: ChainHashes.regtest } })
    const first = seeds[0]
    if (first === undefined) throw new Error("no seeds")
    const results = framesOf(first).map((raw) => graph.apply(raw, 1_770_000_000))
    expect(results.map((r) => (Result.isSuccess(r) ? r.success._tag : r.failure._tag))).toEqual(["ChannelAdded", "ChannelUpdated", "ChannelUpdated", "NodeUpdated"])
    expect(graph.channels).toBe(1)
    expect(graph.nodes).toBe(2)
  })

  it("every seed passes, and a longer run from another seed finds nothing", () => {
    for (const s of seeds) fuzz(s)
    const r = runInputs({ fuzz, seeds }, 2000, 2026)
    if (!r.ok) throw new Error(`failed on ${Buffer.from(r.input).toString("hex")}: ${String(r.error)}`)
    expect(r.ok).toBe(true)
  })

  it("its checks catch a graph that loses messages on restore", () => {
    const restore = CompactGraph.prototype.restore
    CompactGraph.prototype.restore = function(this: CompactGraph, bytes: Uint8Array) {
      return restore.call(this, bytes.subarray(0, Math.floor(bytes.length / 2)))
    }
    try {
      const first = seeds[0]
      if (first === undefined) throw new Error("no seeds")
      expect(() => fuzz(first)).toThrow()
    } finally {
      CompactGraph.prototype.restore = restore
    }
  })
})
