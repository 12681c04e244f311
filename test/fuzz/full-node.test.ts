/**
 * The full-node fuzz target (fuzz/targets/full-node.ts) under CI: Alice, one node of ours, fed
 * arbitrary bytes by Mallory (before the handshake, and after it and `init`: arbitrary and mutated
 * messages, floods, garbage, reconnections) and API commands, with simulated time passing. No
 * crash, no hang (every step bounded in scheduler turns), bounded per-peer structures, and Bob's
 * channel still carries HTLCs both ways once Mallory is gone.
 *
 * Cases are seeds `FULL_NODE_FIRST`, +1, ... (default 1, `FULL_NODE_CASES` of them, default 40),
 * at most `FULL_NODE_STEPS` steps each (default 40). A failure names its seed:
 * `npm run fuzz -- full-node --seed N` reruns it; longer runs: `npm run fuzz -- full-node SECONDS`.
 */
import { describe, expect, it } from "vitest"
import { type AsyncFuzzTarget, inputForSeed, loadAnyTarget } from "../../fuzz/engine.ts"
import { MAX_MALLORY_CHANNELS, runFullNode } from "../../fuzz/targets/full-node.ts"

const CASES = Number(process.env["FULL_NODE_CASES"] ?? 40)
const FIRST = Number(process.env["FULL_NODE_FIRST"] ?? 1)
const STEPS = Number(process.env["FULL_NODE_STEPS"] ?? 40)

describe("full-node fuzz target (Mallory's bytes and API commands)", () => {
  it(`${CASES} cases: no crash, no hang, bounded structures, the honest peer's channel intact`, async () => {
    const t = await loadAnyTarget("full-node")
    if (t.kind !== "async") throw new Error("full-node is an async target")
    const target: AsyncFuzzTarget = t
    const totals = { raw: 0, session: 0, sessions: 0, steps: 0, maxMalloryChannels: 0 }
    for (let seed = FIRST; seed < FIRST + CASES; seed++) {
      try {
        const r = await runFullNode(inputForSeed(target, seed), { maxSteps: STEPS })
        totals[r.mode] += 1
        totals.sessions += r.sessions
        totals.steps += r.steps
        totals.maxMalloryChannels = Math.max(totals.maxMalloryChannels, r.maxMalloryChannels)
      } catch (error) {
        throw new Error(`full-node case seed ${seed} failed; reproduce: FULL_NODE_STEPS=${STEPS} npm run fuzz -- full-node --seed ${seed}\n${String(error)}`)
      }
    }
    if (process.env["FULL_NODE_DEBUG"] !== undefined) console.log(JSON.stringify(totals))
    // Both modes ran, Mallory got through the handshake, and her floods reached the channel layer.
    expect(totals.raw).toBeGreaterThan(0)
    expect(totals.session).toBeGreaterThan(CASES / 2)
    expect(totals.sessions).toBeGreaterThan(CASES / 2)
    expect(totals.maxMalloryChannels).toBeGreaterThan(0)
    expect(totals.maxMalloryChannels).toBeLessThanOrEqual(MAX_MALLORY_CHANNELS)
  }, 600_000)

  it("a flood of open_channel: at most MAX_MALLORY_CHANNELS held at once, none kept once she reconnects or leaves", async () => {
    const flood = (from: number) => [3, 31, ...Array.from({ length: 32 }, (_, k) => from + k)]
    // session mode; a flood; Mallory reconnects (her unfunded channels are forgotten); a flood again.
    const program = Uint8Array.from([1, ...flood(0), 6, ...flood(100)])
    const r = await runFullNode(program, { maxSteps: 10 })
    expect(r.mode).toBe("session")
    expect(r.sessions).toBe(2)
    expect(r.maxMalloryChannels).toBe(MAX_MALLORY_CHANNELS)
  }, 60_000)
})
