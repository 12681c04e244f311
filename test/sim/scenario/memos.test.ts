/**
 * A run sizes the channel path's shared key memos for its channels (every node of a run shares
 * them) and puts their capacities back at the end; never below their defaults. The builds memo
 * keeps its default (what a channel's round trip reuses).
 */
import { describe, expect, it } from "vitest"
import { sharedCommitmentKeysCache } from "../../../src/protocol/keys/commitment-keys-cache.ts"
import { sharedPerCommitmentPoints } from "../../../src/protocol/keys/per-commitment-points.ts"
import { sharedCommitmentBuilds } from "../../../src/protocol/tx/commitment-builds.ts"
import { runScenario, type Scenario } from "../../../src/sim/index.ts"

const scenario: Scenario = {
  name: "memo-sizing",
  nodes: { count: 30 },
  channels: [{ kind: "scaleFree", perNode: 3, capacitySat: { kind: "constant", value: 1_000_000 }, pushFraction: 0.5 }],
  workload: { payments: 2, durationSeconds: 2, amountMsat: { kind: "constant", value: 1_000_000 }, pairs: { kind: "uniform" }, timeoutSeconds: 20 },
  checkEverySeconds: 0
}

describe("memo sizing", () => {
  it("holds 8 key sets and points per channel during the run (not fewer than before), builds at their default, the old capacities after", async () => {
    const memos = [sharedCommitmentKeysCache, sharedPerCommitmentPoints, sharedCommitmentBuilds]
    const before = memos.map((m) => m.capacity)
    let during: ReadonlyArray<number> = []
    const r = await runScenario(scenario, {
      seed: 1,
      onProgress: (p) => {
        if (p.phase === "workload" && during.length === 0) during = memos.map((m) => m.capacity)
      }
    })
    const channels = r.summary.channels
    // Enough channels that 8 per channel exceeds the key memos' default (512): both branches below.
    expect(channels).toBeGreaterThan(64)
    expect(during).toEqual([Math.max(before[0]!, 8 * channels), Math.max(before[1]!, 8 * channels), before[2]!])
    // Both branches: some memo grows, some keeps a default above what the run asks.
    expect(during.some((c, k) => c > before[k]!)).toBe(true)
    expect(during.some((c, k) => c === before[k]!)).toBe(true)
    expect(memos.map((m) => m.capacity)).toEqual(before)
    expect(r.summary.invariantViolations).toEqual([])
  }, 60_000)
})
