/**
 * Every fault kind of a scenario, each in a small scenario whose invariants must all hold
 * (funds conserved per node, both ends agree, every HTLC resolved, no unexplained force close),
 * and a planted bug (a persister that silently loses a node's writes) that the invariants catch.
 */
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { runScenario, type Scenario } from "../../../src/sim/index.ts"
import type { MonitorPersisterShape } from "../../../src/services/MonitorPersister.ts"

const base = (name: string, nodes: number, payments: number): Scenario => ({
  name,
  nodes: { count: nodes },
  channels: [{ kind: "ring", capacitySat: { kind: "constant", value: 1_000_000 }, pushFraction: 0.5 }],
  workload: {
    payments,
    durationSeconds: 20,
    amountMsat: { kind: "uniform", min: 1_000_000, max: 30_000_000 },
    pairs: { kind: "uniform" },
    timeoutSeconds: 30
  },
  network: { latencyMs: { kind: "uniform", min: 20, max: 60 }, reconnectMs: { kind: "constant", value: 500 } },
  checkEverySeconds: 4
})

describe("scenario faults", () => {
  it("late persistence, crashes at persistence points and message loss: every invariant holds", async () => {
    const r = await runScenario(
      {
        ...base("late-crash-loss", 5, 24),
        network: { latencyMs: { kind: "constant", value: 30 }, loss: 0.01, reconnectMs: { kind: "constant", value: 400 } },
        faults: [
          { kind: "latePersistence", delayMs: { kind: "uniform", min: 10, max: 800 }, fromSeconds: 0, toSeconds: 12 },
          { kind: "crashAtPersist", count: 2, restartAfterSeconds: 2, fromSeconds: 1, toSeconds: 15 }
        ]
      },
      { seed: 3 }
    )
    const s = r.summary
    expect(s.invariantViolations).toEqual([])
    expect(s.faults.crashes).toBeGreaterThanOrEqual(1)
    expect(s.faults.restarts).toBe(s.faults.crashes)
    expect(s.faults.messagesLost).toBeGreaterThan(0)
    expect(s.payments.attempted).toBe(24)
    expect(s.payments.succeeded).toBeGreaterThan(0)
    expect(s.channelsChecked).toBe(5)
  }, 90_000)

  it("a partition, a crash with restart and a dropped connection: every invariant holds", async () => {
    const r = await runScenario(
      {
        ...base("partition-crash", 6, 20),
        faults: [
          { kind: "partition", side: [0, 1], fromSeconds: 3, toSeconds: 10 },
          { kind: "crash", node: 4, atSeconds: 5, restartAfterSeconds: 4 },
          { kind: "disconnect", a: 2, b: 3, atSeconds: 12 }
        ]
      },
      { seed: 5 }
    )
    const s = r.summary
    expect(s.invariantViolations).toEqual([])
    expect(s.faults.crashes).toBe(1)
    expect(s.faults.restarts).toBe(1)
    expect(s.faults.disconnects).toBeGreaterThanOrEqual(3)
    expect(s.forceCloses).toEqual([])
  }, 90_000)

  it("blocks, a reorg and a fee spike (update_fee up and down): every invariant holds", async () => {
    const r = await runScenario(
      {
        ...base("reorg-fee", 4, 16),
        chain: { blockIntervalSeconds: 3, feeratePerKw: 2_500 },
        faults: [
          { kind: "reorg", atSeconds: 6, depth: 2 },
          { kind: "feeSpike", atSeconds: 4, durationSeconds: 6, feeratePerKw: 10_000 }
        ]
      },
      { seed: 9 }
    )
    const s = r.summary
    expect(s.invariantViolations).toEqual([])
    expect(s.faults.blocks).toBeGreaterThan(2)
    expect(s.faults.reorgs).toBe(1)
    expect(s.payments.succeeded).toBeGreaterThan(0)
  }, 90_000)

  it("reordering (messages overtaking on a link): every invariant holds, a force close only if explained", async () => {
    const r = await runScenario(
      {
        ...base("reorder", 4, 16),
        network: { latencyMs: { kind: "uniform", min: 10, max: 200 }, reorder: 0.05 }
      },
      { seed: 2 }
    )
    const s = r.summary
    expect(s.invariantViolations).toEqual([])
    // Overtaking breaks BOLT 2's ordering: the receiver fails the channel (explained), and the
    // HTLCs of those channels are left to the chain (a note, not a violation).
    expect(s.forceCloses.length).toBeGreaterThan(0)
    expect(s.forceCloses.every((f) => f.explained)).toBe(true)
    expect(s.payments.succeeded).toBeGreaterThan(0)
  }, 90_000)

  it("two MPP parts forwarded over the same channel pair earn two fees (the funds check counts each)", async () => {
    // 0 pays 5 more than either of its channels holds: the parts leave by 1 and by 2, and both
    // go 3 -> 4 -> 5, so node 4 forwards two HTLCs from the same incoming to the same outgoing channel.
    const r = await runScenario(
      {
        name: "mpp-same-pair",
        nodes: { count: 6 },
        channels: [
          { kind: "channel", a: 0, b: 1, capacitySat: 300_000 },
          { kind: "channel", a: 0, b: 2, capacitySat: 300_000 },
          { kind: "channel", a: 1, b: 3, capacitySat: 1_000_000 },
          { kind: "channel", a: 2, b: 3, capacitySat: 1_000_000 },
          { kind: "channel", a: 3, b: 4, capacitySat: 2_000_000 },
          { kind: "channel", a: 4, b: 5, capacitySat: 2_000_000 }
        ],
        workload: {
          payments: 1,
          durationSeconds: 1,
          amountMsat: { kind: "constant", value: 400_000_000 },
          pairs: { kind: "pairs", pairs: [[0, 5]] },
          timeoutSeconds: 30
        },
        network: { latencyMs: { kind: "constant", value: 20 } },
        checkEverySeconds: 0
      },
      { seed: 4 }
    )
    const s = r.summary
    expect(s.invariantViolations).toEqual([])
    expect(s.payments.succeeded).toBe(1)
    const earned = (n: number) => BigInt(s.balances[n]!.earnedMsat)
    // What the payer paid in fees is what the forwarders earned, both parts' fees at node 4 included.
    expect(earned(1) > 0n && earned(2) > 0n).toBe(true)
    expect(earned(1) + earned(2) + earned(3) + earned(4)).toBe(BigInt(s.payments.feesPaidMsat))
    expect(BigInt(s.balances[4]!.finalMsat) - BigInt(s.balances[4]!.initialMsat)).toBe(earned(4))
  }, 90_000)

  it("a planted bug (node 1's store silently loses its writes after setup) is caught", async () => {
    let lose = false
    const losing = (node: number, p: MonitorPersisterShape): MonitorPersisterShape =>
      node !== 1
        ? p
        : {
          ...p,
          persist: (channelId, updates, state) => (lose ? Effect.succeed("Completed" as const) : p.persist(channelId, updates, state)),
          persistMany: (writes) => (lose ? Effect.succeed(writes.map(() => "Completed" as const)) : p.persistMany(writes))
        }
    const r = await runScenario(
      {
        ...base("planted", 4, 12),
        workload: { ...base("planted", 4, 12).workload, pairs: { kind: "pairs", pairs: [[0, 2], [2, 0]] } },
        faults: [{ kind: "crash", node: 1, atSeconds: 15, restartAfterSeconds: 2 }]
      },
      {
        seed: 11,
        wrapPersister: (node, p) => losing(node, p),
        onProgress: (p) => {
          if (p.phase === "workload") lose = true
        }
      }
    )
    const v = r.summary.invariantViolations
    // Node 1 comes back with states older than what its peers hold: its channels break, and
    // the balance it restored is not what its payments say it should hold.
    expect(v.some((x) => x.includes("force close") && x.includes("no fault explains"))).toBe(true)
    expect(v.some((x) => x.startsWith("funds: node 1 holds"))).toBe(true)
  }, 90_000)
})
