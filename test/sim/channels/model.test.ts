/**
 * Model-based property test (fast-check commands) over one channel between two of our nodes in
 * the harness: random sequences of adds, fulfills, fails, fee updates, message-by-message
 * delivery with holds and cross-link reordering, disconnects and reconnects, crashes with
 * restarts from the store, late and out-of-order persistence.
 *
 * The model holds what the payment layer asked for: each HTLC (by payment number) and whether it
 * was added, is being fulfilled or failed, and the balances that follow. After every command it
 * checks what must hold at any moment (no channel failed, nothing sent ahead of the store); at
 * every `Settle` (the network made quiescent: holds released, writes completed, crashed nodes
 * restarted, peers reconnected) it checks: both sides agree on both commitments (numbers, specs,
 * txids), balances are conserved and equal the model's, every HTLC is accounted for (none lost,
 * none duplicated), and the monitors agree with the channels.
 *
 * Runs: 40 by default (about 10 s). Longer runs: `SIM_RUNS=500 npx vitest run
 * test/sim/channels/model.test.ts`; another seed: `SIM_SEED=1234`; longer command sequences:
 * `SIM_COMMANDS=80`; the harness's own routing instead of the ChannelManager: `SIM_BACKEND=sim`;
 * statistics (and `SIM_DEBUG=2`: every run's commands and network log): `SIM_DEBUG=1`.
 * The same seed gives the same run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { toHex } from "../../../src/protocol/bytes.ts"
import type { ChannelState } from "../../../src/protocol/channel/state.ts"
import { agreement, type Backend, Harness, paymentHashOf, preimageFor } from "./Harness.ts"

const RUNS = Number(process.env["SIM_RUNS"] ?? 40)
const SEED = Number(process.env["SIM_SEED"] ?? 20_260_705)
const MAX_COMMANDS = Number(process.env["SIM_COMMANDS"] ?? 30)
/** "manager" (default): H's ChannelManager per node; "sim": the harness's own routing over the Channel actor. */
const BACKEND: Backend = process.env["SIM_BACKEND"] === "sim" ? "sim" : "manager"

const FUNDING = 1_000_000n
const PUSH = 400_000_000n

type Node = 0 | 1
const other = (n: Node): Node => (n === 0 ? 1 : 0)

interface ModelHtlc {
  readonly n: number
  readonly offerer: Node
  readonly amount: bigint
  status: "added" | "fulfilling" | "failing"
  /** The offerer restarted before the add was seen committed: it may be forgotten (never sent for good). */
  mayVanish: boolean
  /** The resolver restarted before the resolution was seen applied: it may be forgotten. */
  mayRevert: boolean
}

interface Model {
  nextPayment: number
  readonly htlcs: Map<number, ModelHtlc>
  /** Settled balances (msat), each node's own. */
  readonly balance: [bigint, bigint]
  connected: boolean
  readonly running: [boolean, boolean]
  readonly late: [boolean, boolean]
  /** A crash point is armed on the node. */
  readonly armed: [boolean, boolean]
}

interface Real {
  readonly h: Harness
  readonly id: Uint8Array
  readonly seed: string
}

const run = <A>(e: Effect.Effect<A>): Promise<A> => Effect.runPromise(e)

const stateOf = (r: Real, n: Node): Promise<ChannelState | undefined> => run(r.h.state(n, r.id))

const nOfHash = (r: Real, hash: Uint8Array, limit: number): number | undefined => {
  const hex = toHex(hash)
  for (let n = 0; n < limit; n++) if (toHex(paymentHashOf(preimageFor(r.seed, n))) === hex) return n
  return undefined
}

/** After every command: no channel failed or closed, nothing sent ahead of the store. */
/** A crash point fired: the node restarts from its store (like `Restart`) and the peers reconnect. True if one did. */
const recover = async (m: Model, r: Real): Promise<boolean> => {
  let any = false
  for (const n of [0, 1] as const) {
    if (!r.h.hasCrashed(n)) continue
    any = true
    await run(r.h.restart(n))
    m.armed[n] = false
    markRestart(m, n)
    await run(r.h.connect(0, 1))
    m.connected = true
  }
  return any
}

const alwaysChecks = async (m: Model, r: Real): Promise<void> => {
  // Let the nodes finish what the command started (a flush may hit an armed crash point).
  await run(r.h.settleNodes)
  await recover(m, r)
  for (const n of [0, 1] as const) {
    const closed = r.h.eventsOf(n, "ChannelClosed")
    assert.deepStrictEqual(closed, [], `node ${n} closed the channel:\n${r.h.log.slice(-30).join("\n")}`)
    if (m.running[n]) {
      const s = await stateOf(r, n)
      // WaitChannelReady: restarted from the state stored before channel_ready (it is Normal again once reconnected).
      assert.include(["Normal", "WaitChannelReady"], s?._tag, `node ${n} is ${s?._tag}:\n${r.h.log.slice(-30).join("\n")}`)
    }
  }
  assert.deepStrictEqual(r.h.violations, [], "a message left before what it depends on was stored")
}

const stats = { runs: 0, commands: 0, fulfilled: 0, restarts: 0, wire: 0, rejected: {} as Record<string, number> }

type Cmd = fc.AsyncCommand<Model, Real>

/** After a restart of `node`: its adds not yet seen committed may be forgotten, its resolutions too. */
const markRestart = (m: Model, node: Node): void => {
  for (const x of m.htlcs.values()) {
    if (x.offerer === node && x.status === "added") x.mayVanish = true
    if (x.offerer !== node && x.status !== "added") x.mayRevert = true
  }
}

class Add implements Cmd {
  readonly from: Node
  readonly amount: bigint
  constructor(from: Node, amount: bigint) {
    this.from = from
    this.amount = amount
  }
  check = (m: Model) => m.running[this.from]
  async run(m: Model, r: Real) {
    const n = m.nextPayment++
    const result = await run(r.h.addHtlc(this.from, r.id, this.amount, n))
    if (result._tag === "Failure") stats.rejected[result.failure] = (stats.rejected[result.failure] ?? 0) + 1
    if (result._tag === "Success")
      m.htlcs.set(n, { n, offerer: this.from, amount: this.amount, status: "added", mayVanish: false, mayRevert: false })
    await alwaysChecks(m, r)
  }
  toString = () => `Add(${this.from}, ${this.amount})`
}

/** Fulfills or fails the `pick`-th HTLC the resolver has irrevocably received and not resolved yet. */
class Resolve implements Cmd {
  readonly resolver: Node
  readonly pick: number
  readonly fulfill: boolean
  constructor(resolver: Node, pick: number, fulfill: boolean) {
    this.resolver = resolver
    this.pick = pick
    this.fulfill = fulfill
  }
  check = (m: Model) => m.running[this.resolver]
  async run(m: Model, r: Real) {
    const s = await stateOf(r, this.resolver)
    if (s?._tag !== "Normal") return
    const c = s.commitments
    const resolving = new Set(
      [...c.localChanges.proposed, ...c.localChanges.signed, ...c.localChanges.acked].flatMap((u) =>
        u._tag === "UpdateFulfillHtlc" || u._tag === "UpdateFailHtlc" || u._tag === "UpdateFailMalformedHtlc" ? [u.id] : []
      )
    )
    // Irrevocably committed: in both of our current commitment and theirs.
    const theirs = new Set(c.remoteCommit.spec.htlcs.filter((x) => x.direction === "offered").map((x) => x.id))
    const candidates = c.localCommit.spec.htlcs.filter((x) => x.direction === "received" && theirs.has(x.id) && !resolving.has(x.id))
    const target = candidates[this.pick % Math.max(1, candidates.length)]
    if (target === undefined) return
    const n = nOfHash(r, target.paymentHash, m.nextPayment)
    const model = n === undefined ? undefined : m.htlcs.get(n)
    assert.isDefined(model, `an HTLC the model does not know: ${target.id}`)
    if (model === undefined || n === undefined) return
    const result = await run(this.fulfill ? r.h.fulfillHtlc(this.resolver, r.id, target.id, n) : r.h.failHtlc(this.resolver, r.id, target.id))
    if (result._tag === "Success") model.status = this.fulfill ? "fulfilling" : "failing"
    else if (r.h.hasCrashed(this.resolver)) {
      // The node died in this step: the resolution may have been stored (a crash after the write) or not.
      model.status = this.fulfill ? "fulfilling" : "failing"
      model.mayRevert = true
    }
    await alwaysChecks(m, r)
  }
  toString = () => `${this.fulfill ? "Fulfill" : "Fail"}(by ${this.resolver}, #${this.pick})`
}

class Fee implements Cmd {
  readonly feerate: number
  constructor(feerate: number) {
    this.feerate = feerate
  }
  check = (m: Model) => m.running[0]
  async run(m: Model, r: Real) {
    await run(r.h.command(0, r.id, { _tag: "UpdateFee", feeratePerKw: this.feerate }))
    await alwaysChecks(m, r)
  }
  toString = () => `Fee(${this.feerate})`
}

class Deliver implements Cmd {
  /** `link` undefined: the oldest message anywhere; else the next on that link (cross-link reordering). */
  readonly count: number
  readonly link: Node | undefined
  constructor(count: number, link: Node | undefined) {
    this.count = count
    this.link = link
  }
  check = () => true
  async run(m: Model, r: Real) {
    for (let i = 0; i < this.count; i++) {
      if (this.link === undefined) await run(r.h.deliverNext())
      else await run(Effect.andThen(r.h.deliver(this.link, other(this.link)), r.h.settleNodes))
    }
    await alwaysChecks(m, r)
  }
  toString = () => `Deliver(${this.count}${this.link === undefined ? "" : `, from ${this.link}`})`
}

class Hold implements Cmd {
  readonly from: Node
  readonly held: boolean
  constructor(from: Node, held: boolean) {
    this.from = from
    this.held = held
  }
  check = () => true
  async run(_m: Model, r: Real) {
    r.h.hold(this.from, other(this.from), this.held)
  }
  toString = () => `${this.held ? "Hold" : "Release"}(${this.from}->${other(this.from)})`
}

class Disconnect implements Cmd {
  check = (m: Model) => m.connected
  async run(m: Model, r: Real) {
    await run(r.h.disconnect(0, 1))
    m.connected = false
    await alwaysChecks(m, r)
  }
  toString = () => "Disconnect"
}

class Reconnect implements Cmd {
  check = (m: Model) => !m.connected && m.running[0] && m.running[1]
  async run(m: Model, r: Real) {
    await run(r.h.connect(0, 1))
    m.connected = true
    await alwaysChecks(m, r)
  }
  toString = () => "Reconnect"
}

/** The node crashes now (writes not landed are lost) and starts again from its store; `reconnect`: the peers connect again at once. */
class Restart implements Cmd {
  readonly node: Node
  readonly reconnect: boolean
  constructor(node: Node, reconnect: boolean) {
    this.node = node
    this.reconnect = reconnect
  }
  check = (m: Model) => m.running[this.node]
  async run(m: Model, r: Real) {
    await run(r.h.restart(this.node))
    m.connected = false
    m.armed[this.node] = false
    markRestart(m, this.node)
    if (this.reconnect) {
      await run(r.h.connect(0, 1))
      m.connected = true
    }
    await alwaysChecks(m, r)
  }
  toString = () => `Restart(${this.node}${this.reconnect ? ", reconnect" : ""})`
}

/** Arms a crash of `node` at its `k`-th persist from now, before or after the write lands (it fires during later commands). */
class ArmCrash implements Cmd {
  readonly node: Node
  readonly k: number
  readonly after: boolean
  constructor(node: Node, k: number, after: boolean) {
    this.node = node
    this.k = k
    this.after = after
  }
  check = (m: Model) => m.running[this.node]
  async run(m: Model, r: Real) {
    r.h.armCrash(this.node, { persistCall: this.k, when: this.after ? "after" : "before" })
    m.armed[this.node] = true
  }
  toString = () => `ArmCrash(${this.node}, persist ${this.k} ${this.after ? "after" : "before"})`
}

class Persistence implements Cmd {
  readonly node: Node
  readonly late: boolean
  constructor(node: Node, late: boolean) {
    this.node = node
    this.late = late
  }
  check = () => true
  async run(m: Model, r: Real) {
    await run(r.h.setPersistence(this.node, this.late ? "InProgress" : "Completed"))
    m.late[this.node] = this.late
  }
  toString = () => `Persistence(${this.node}, ${this.late ? "late" : "at once"})`
}

class Complete implements Cmd {
  readonly node: Node
  readonly order: "fifo" | "reverse" | "one"
  constructor(node: Node, order: "fifo" | "reverse" | "one") {
    this.node = node
    this.order = order
  }
  check = (m: Model) => m.running[this.node]
  async run(m: Model, r: Real) {
    await run(r.h.completeWrites(this.node, this.order))
    await run(r.h.settleNodes)
    await alwaysChecks(m, r)
  }
  toString = () => `Complete(${this.node}, ${this.order})`
}

/** Makes the network quiescent and checks agreement, conservation and HTLC accounting against the model. */
class Settle implements Cmd {
  check = () => true
  async run(m: Model, r: Real) {
    await settle(m, r)
  }
  toString = () => "Settle"
}

const settle = async (m: Model, r: Real): Promise<void> => {
  const h = r.h
  h.hold(0, 1, false)
  h.hold(1, 0, false)
  m.running[0] = true
  m.running[1] = true
  if (!m.connected) await run(h.connect(0, 1))
  m.connected = true
  // Until no armed crash fires any more; twice at the end: fulfills and fails may need a second round.
  for (let i = 0; i < 10; i++) {
    await run(h.quiesce({ completeWrites: true }))
    if (!(await recover(m, r))) break
  }
  await run(h.quiesce({ completeWrites: true }))
  await alwaysChecks(m, r)
  const s0 = await stateOf(r, 0)
  const s1 = await stateOf(r, 1)
  const context = () => `\n${h.log.slice(-40).join("\n")}`
  if (s0?._tag !== "Normal" || s1?._tag !== "Normal") throw new Error(`not Normal once settled: ${s0?._tag} / ${s1?._tag}${context()}`)
  assert.deepStrictEqual(agreement(s0, s1), [], `the two sides disagree${context()}`)
  assert.deepStrictEqual(
    [...(await run(h.monitorAgreement(0, 1, r.id))), ...(await run(h.monitorAgreement(1, 0, r.id)))],
    [],
    `a monitor disagrees with its channel${context()}`
  )
  // Nothing may be left in flight once quiescent.
  const c0 = s0.commitments
  assert.strictEqual(c0.remoteNextCommitInfo._tag, "NextPoint", `a commitment is still unrevoked${context()}`)
  // HTLC accounting: what the commitments hold, by payment number.
  const present = new Map<number, { readonly offerer: Node; readonly amount: bigint }>()
  for (const x of c0.localCommit.spec.htlcs) {
    const n = nOfHash(r, x.paymentHash, m.nextPayment)
    assert.isDefined(n, `an HTLC nobody added: ${x.direction} ${x.id}${context()}`)
    if (n === undefined) continue
    assert.isFalse(present.has(n), `payment ${n} is in the commitment twice${context()}`)
    present.set(n, { offerer: x.direction === "offered" ? 0 : 1, amount: x.amount })
  }
  for (const x of [...m.htlcs.values()]) {
    const p = present.get(x.n)
    if (x.status === "added") {
      if (p === undefined) {
        assert.isTrue(x.mayVanish, `HTLC of payment ${x.n} (${x.offerer} -> ${other(x.offerer)}, ${x.amount}) was lost${context()}`)
        m.htlcs.delete(x.n)
        continue
      }
      assert.strictEqual(p.offerer, x.offerer)
      assert.strictEqual(p.amount, x.amount)
      x.mayVanish = false
      continue
    }
    // Being resolved: it must be gone, unless the resolver restarted before the resolution was stored.
    if (p !== undefined) {
      assert.isTrue(x.mayRevert, `the ${x.status} of payment ${x.n} never completed${context()}`)
      x.status = "added"
      x.mayRevert = false
      x.mayVanish = false
      continue
    }
    if (x.status === "fulfilling") {
      m.balance[x.offerer] -= x.amount
      m.balance[other(x.offerer)] += x.amount
    }
    m.htlcs.delete(x.n)
  }
  for (const n of present.keys()) assert.isTrue(m.htlcs.has(n), `payment ${n} is in the commitment but not in the model${context()}`)
  // Balances: the model's, minus what each side has in flight; conserved on both sides.
  const inFlight = (n: Node) => [...m.htlcs.values()].filter((x) => x.offerer === n).reduce((a, x) => a + x.amount, 0n)
  assert.strictEqual(c0.localCommit.spec.toLocal, m.balance[0] - inFlight(0), `node 0 balance${context()}`)
  assert.strictEqual(c0.localCommit.spec.toRemote, m.balance[1] - inFlight(1), `node 1 balance${context()}`)
  assert.strictEqual(s1.commitments.localCommit.spec.toLocal, m.balance[1] - inFlight(1))
}

const node = fc.constantFrom<Node>(0, 1)
const add = fc.tuple(node, fc.oneof(fc.bigInt(1_000_000n, 40_000_000n), fc.constant(200_000n))).map(([from, amount]) => new Add(from, amount))
const resolve = fc.tuple(node, fc.nat(10), fc.boolean()).map(([n, pick, fulfill]) => new Resolve(n, pick, fulfill))
const deliver = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.option(node, { nil: undefined })).map(([count, link]) => new Deliver(count, link))
// Adds, resolutions and deliveries are listed several times: they are the common case.
const commands = fc.commands<Model, Real, false>(
  [
    add,
    add,
    add,
    resolve,
    resolve,
    resolve,
    deliver,
    deliver,
    deliver,
    deliver,
    fc.integer({ min: 1_500, max: 6_000 }).map((f) => new Fee(f)),
    fc.tuple(node, fc.boolean()).map(([from, held]) => new Hold(from, held)),
    fc.constant(new Disconnect()),
    fc.constant(new Reconnect()),
    fc.tuple(node, fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false))).map(([n, re]) => new Restart(n, re)),
    fc.tuple(node, fc.boolean()).map(([n, late]) => new Persistence(n, late)),
    fc.tuple(node, fc.integer({ min: 1, max: 6 }), fc.boolean()).map(([n, k, after]) => new ArmCrash(n, k, after)),
    fc.tuple(node, fc.constantFrom<"fifo" | "reverse" | "one">("fifo", "reverse", "one")).map(([n, o]) => new Complete(n, o)),
    fc.constant(new Settle()),
    fc.constant(new Settle())
  ],
  { maxCommands: MAX_COMMANDS, size: "max" }
)


describe("channel model (fast-check commands over two nodes)", () => {
  it.effect(
    `random adds, fulfills, fails, fee updates, deliveries, disconnects, restarts and late persistence keep both sides in agreement (${RUNS} runs, ${BACKEND} backend)`,
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), commands, async (harnessSeed, cmds) => {
            const seed = `model-${harnessSeed}`
            const h = await run(Harness.make({ seed, nodes: 2, backend: BACKEND }))
            try {
              await run(h.connect(0, 1))
              const id = await run(h.openToNormal(0, 1, { fundingSat: FUNDING, pushMsat: PUSH }))
              const s0 = await run(h.state(0, id))
              const start0 = s0?._tag === "Normal" ? s0.commitments.localCommit.spec.toLocal : 0n
              const model: Model = {
                nextPayment: 0,
                htlcs: new Map(),
                balance: [start0, FUNDING * 1000n - start0],
                connected: true,
                running: [true, true],
                late: [false, false],
                armed: [false, false]
              }
              const real: Real = { h, id, seed }
              await fc.asyncModelRun(() => ({ model, real }), cmds)
              await settle(model, real)
              stats.runs += 1
              stats.commands += [...cmds].length
              stats.fulfilled += h.eventsOf(0, "HtlcResolved").length + h.eventsOf(1, "HtlcResolved").length
              stats.restarts += h.log.filter((l) => l.startsWith("restart")).length
              stats.wire += h.wire.length
              if (process.env["SIM_DEBUG"] === "2") console.log([...cmds].map(String).join(" "), "\n", h.log.join("\n"))
            } finally {
              await run(h.shutdown)
            }
          }),
          { numRuns: RUNS, seed: SEED }
        ).then(() => {
          if (process.env["SIM_DEBUG"] !== undefined) console.log(JSON.stringify(stats))
        })
      ),
    600_000
  )
})
