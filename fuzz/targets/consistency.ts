/**
 * Consistency fuzzer, in the spirit of LDK's `chanmon_consistency`: three of our nodes, A (0),
 * B (1) and C (2), with channels A-B and B-C, each node a `ChannelManager` plus `Payments`
 * (test/sim/payments/PaymentNet.ts over the channel harness test/sim/channels/Harness.ts,
 * manager backend). The fuzzer's bytes are a program: each step is one byte choosing the action
 * and one or two argument bytes:
 *
 * - pay (keysend) A->B, B->A, B->C, C->B, and A->C / C->A through B, of a small, medium or
 *   capacity-sized amount;
 * - deliver the next 1-4 messages of one link (A->B, B->A, B->C, C->B: cross-link reordering),
 *   or the oldest messages of any link;
 * - drop the next message of a link: the transport is reliable and ordered, so a lost message is
 *   a broken connection (the peer's messages already in flight may still arrive first);
 * - disconnect / reconnect A-B or B-C;
 * - hold a node's persistence (`InProgress`), complete its writes (in order, one, or with the
 *   completions reversed), or make it complete at once again;
 * - restart a node from its store (not reconnected), arm a crash at its k-th persist;
 * - `update_fee` on a channel (by its funder), mine blocks (the payments' height, funding depth);
 * - settle: make the network quiescent and check agreement (see below).
 *
 * After every step: no channel closed or failed, nothing broadcast but funding, nothing sent
 * ahead of the store (the harness's checks), every commitment of every running node conserves
 * the channel's funding. At quiescent points (`settle` steps and the end): both ends of each
 * channel agree (numbers, specs, txids), each monitor agrees with its channel, nothing is left
 * unrevoked, and every HTLC in a commitment belongs to a payment somebody started. At the end
 * (every node running and reconnected, persistence completing, everything delivered): every
 * payment is resolved and no HTLC is left, and each node's balance is exactly its start minus
 * what it paid (amount + fees), plus what it received, plus (B) the fees of payments through it.
 *
 * `npm run fuzz -- consistency SECONDS` runs it for hours; a failure prints its case seed and
 * `npm run fuzz -- consistency --seed N` reruns that one case (its failure message lists the
 * steps and the harness log; `CONSISTENCY_VERBOSE=1` prints each step as it runs).
 * `CONSISTENCY_STEPS` (default 48) bounds the steps of a case; `CONSISTENCY_NO_DEADLINE=1` makes a
 * payment that only its deadline ends a failure (see `settle`).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { type Context, Effect, Exit, type Fiber, Layer, type Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import type { OutboundStatus } from "../../src/actors/Payments.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import type { ChannelState } from "../../src/protocol/channel/state.ts"
import { msat } from "../../src/protocol/units.ts"
import { channelStateJson } from "../../src/services/MonitorPersister.ts"
import { agreement } from "../../test/sim/channels/Harness.ts"
import { type GraphChannel, macrotask, PaymentNet } from "../../test/sim/payments/PaymentNet.ts"
import { fuzzInputs } from "../engine.ts"

export const kind = "async"

// ---- plants: bugs a test puts in on purpose (through wrappers around the stores, never in src/) ----

/**
 * A bug planted around a node's stores at restart (the fuzzer must find it):
 * - "lose-last-write": the channel store loses the last write of each channel (its state and
 *   monitor updates go back to what they were before the last step that wrote);
 * - "forget-forward": the payments store forgets the forwards it recorded (B forgets which
 *   incoming HTLC an outgoing one pays for);
 * - "forget-htlc": the channel store forgets one HTLC of a channel's stored state (the first in
 *   its current commitment, from every commitment of the state) at each restart.
 */
export type Plant = "lose-last-write" | "forget-forward" | "forget-htlc"

export interface ConsistencyOptions {
  /** At most this many steps (default `CONSISTENCY_STEPS` or 48). */
  readonly maxSteps?: number
  readonly plant?: Plant
  /** Called with each step as it runs (for `--seed` reruns). */
  readonly onStep?: (line: string) => void
}

export class ConsistencyFailure extends Error {
  readonly steps: ReadonlyArray<string>
  constructor(message: string, steps: ReadonlyArray<string>, log: ReadonlyArray<string>) {
    super(`${message}\nsteps: ${steps.join("; ")}\nlast harness log:\n${log.slice(-40).join("\n")}`)
    this.name = "ConsistencyFailure"
    this.steps = steps
  }
}

const FUNDING_SAT = 1_000_000n
const PUSH_MSAT = 400_000_000n
const ROUTES: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [1, 0],
  [1, 2],
  [2, 1],
  [0, 2],
  [2, 0]
]
const LINKS: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [1, 0],
  [1, 2],
  [2, 1]
]
const PAIRS: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [1, 2]
]
const NAMES = ["A", "B", "C"]

type Op =
  | "deliver"
  | "deliverOldest"
  | "pay"
  | "drop"
  | "disconnect"
  | "reconnect"
  | "hold"
  | "complete"
  | "immediate"
  | "restart"
  | "armCrash"
  | "fee"
  | "mine"
  | "settle"

/** The op table a step's first byte indexes (the common actions listed more than once). */
const OPS: ReadonlyArray<Op> = [
  "deliver",
  "deliver",
  "deliver",
  "deliver",
  "deliverOldest",
  "deliverOldest",
  "pay",
  "pay",
  "pay",
  "drop",
  "disconnect",
  "reconnect",
  "hold",
  "complete",
  "complete",
  "immediate",
  "restart",
  "armCrash",
  "fee",
  "mine",
  "settle"
]

class Cursor {
  private i = 0
  private readonly data: Uint8Array
  constructor(data: Uint8Array) {
    this.data = data
  }
  get done(): boolean {
    return this.i >= this.data.length
  }
  next(): number {
    return this.data[this.i++] ?? 0
  }
}

/**
 * Every case runs on its own `TestClock` (what the payment layers' timers read): simulated time
 * only moves when the final settle moves it past the payments' deadlines, so a run never depends
 * on how fast the machine is.
 */
let clockContext: Context.Context<TestClock.TestClock> | undefined
const run = <A>(e: Effect.Effect<A>): Promise<A> =>
  clockContext === undefined ? Effect.runPromise(e) : Effect.runPromiseWith(clockContext)(e)
const fork = <A>(e: Effect.Effect<A>): Fiber.Fiber<A> =>
  clockContext === undefined ? Effect.runFork(e) : Effect.runForkWith(clockContext)(e)

const settleTasks = (n: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let k = 0; k < n; k++) yield* macrotask
  })

const sumSpec = (s: { readonly toLocal: bigint; readonly toRemote: bigint; readonly htlcs: ReadonlyArray<{ readonly amount: bigint }> }): bigint =>
  s.toLocal + s.toRemote + s.htlcs.reduce((a, x) => a + x.amount, 0n)

// ---- JSON surgery for the "forget-htlc" plant (on a stored channel record, never on src/ data) ----

const isObject = (v: Schema.Json | undefined): v is Schema.JsonObject => typeof v === "object" && v !== null && !Array.isArray(v)
const isArray = (v: Schema.Json | undefined): v is Schema.JsonArray => Array.isArray(v)

const at = (v: Schema.Json | undefined, path: ReadonlyArray<string>): Schema.Json | undefined =>
  path.reduce<Schema.Json | undefined>((acc, k) => (isObject(acc) ? acc[k] : undefined), v)

/** A copy of `v` with the value at `path` replaced by `f` of it (unchanged where the path is missing). */
const updateAt = (v: Schema.Json, path: ReadonlyArray<string>, f: (x: Schema.Json) => Schema.Json): Schema.Json => {
  const [head, ...rest] = path
  if (head === undefined) return f(v)
  if (!isObject(v) || !(head in v)) return v
  const child = v[head]
  if (child === undefined) return v
  return { ...v, [head]: updateAt(child, rest, f) }
}

const HTLC_LISTS: ReadonlyArray<ReadonlyArray<string>> = [
  ["channel", "commitments", "localCommit", "spec", "htlcs"],
  ["channel", "commitments", "remoteCommit", "spec", "htlcs"],
  ["channel", "commitments", "remoteNextCommitInfo", "next", "spec", "htlcs"]
]

/** The record without the first HTLC of its current commitment (by payment hash, in every commitment); undefined if it has none. */
const forgetOneHtlc = (record: Schema.Json): Schema.Json | undefined => {
  const first = at(record, HTLC_LISTS[0]!)
  const victim = isArray(first) ? first[0] : undefined
  const hash = isObject(victim) ? victim["paymentHash"] : undefined
  if (hash === undefined) return undefined
  return HTLC_LISTS.reduce(
    (acc, path) => updateAt(acc, path, (list) => (isArray(list) ? list.filter((x) => !isObject(x) || x["paymentHash"] !== hash) : list)),
    record
  )
}

/** A channel's stored data at one moment: its state (replaced, never mutated, by each write) and how many updates. */
interface StoredImage {
  readonly state: Schema.Json
  readonly updates: number
}

/** One run of the fuzzer over a program. Resolves when every invariant held; rejects with a `ConsistencyFailure`. */
export class ConsistencyRun {
  readonly net: PaymentNet
  readonly channels: ReadonlyArray<GraphChannel>
  readonly options: ConsistencyOptions
  readonly steps: Array<string> = []
  /** Per node, its balance over its channels after the opens. */
  readonly initial: ReadonlyArray<bigint>
  /** Blocks mined so far (bounded: the HTLCs' expiries stay far). */
  mined = 0
  /** Fibers starting payments (a start may wait on a held persist). */
  readonly starts: Array<Fiber.Fiber<unknown, unknown>> = []
  /** Per channel store: the stored data as it was before the latest step that wrote (for the "lose-last-write" plant). */
  private readonly previousStored: Array<Map<string, StoredImage>> = [new Map(), new Map(), new Map()]
  private readonly currentStored: Array<Map<string, StoredImage>> = [new Map(), new Map(), new Map()]

  private constructor(net: PaymentNet, channels: ReadonlyArray<GraphChannel>, initial: ReadonlyArray<bigint>, options: ConsistencyOptions) {
    this.net = net
    this.channels = channels
    this.initial = initial
    this.options = options
  }

  static async make(seed: string, options: ConsistencyOptions): Promise<ConsistencyRun> {
    const net = await run(PaymentNet.make(seed, 3))
    const ab = await run(net.channel(0, 1, { fundingSat: FUNDING_SAT, pushMsat: PUSH_MSAT }))
    const bc = await run(net.channel(1, 2, { fundingSat: FUNDING_SAT, pushMsat: PUSH_MSAT }))
    const r = new ConsistencyRun(net, [ab, bc], [], options)
    const initial = [await r.nodeBalance(0), await r.nodeBalance(1), await r.nodeBalance(2)]
    const made = new ConsistencyRun(net, [ab, bc], initial, options)
    made.snapshotStores()
    return made
  }

  get h() {
    return this.net.h
  }

  fail(message: string): never {
    throw new ConsistencyFailure(message, this.steps, this.h.log)
  }

  channelsOf(node: number): ReadonlyArray<GraphChannel> {
    return this.channels.filter((c) => c.a === node || c.b === node)
  }

  running(node: number): boolean {
    const n = this.h.nodes[node]
    return n !== undefined && !n.crashed
  }

  async nodeBalance(node: number): Promise<bigint> {
    let total = 0n
    for (const c of this.channelsOf(node)) {
      const s = await run(this.h.state(node, c.channelId))
      if (s?._tag !== "Normal") this.fail(`node ${NAMES[node]}: channel ${c.a}-${c.b} is ${s?._tag ?? "missing"}`)
      total += s.commitments.localCommit.spec.toLocal
    }
    return total
  }

  // ---- the plants ------------------------------------------------------------------------------------------

  /** Remembers each channel store's data after a step (the persister replaces a channel's state on each write). */
  private snapshotStores(): void {
    if (this.options.plant !== "lose-last-write") return
    for (let i = 0; i < 3; i++) {
      for (const [id, stored] of this.h.persisterData[i]!.channels) {
        const image: StoredImage = { state: channelStateJson(stored.channelState), updates: stored.updates.length }
        const current = this.currentStored[i]!.get(id)
        if (current === undefined || current.state !== image.state || current.updates !== image.updates) {
          if (current !== undefined) this.previousStored[i]!.set(id, current)
          this.currentStored[i]!.set(id, image)
        }
      }
    }
  }

  /** Applies the planted bug to node `node`'s stores before it starts again. */
  private applyPlant(node: number): void {
    if (this.options.plant === "lose-last-write") {
      for (const [id, stored] of this.h.persisterData[node]!.channels) {
        const previous = this.previousStored[node]!.get(id)
        if (previous === undefined) continue
        stored.channelState = previous.state
        stored.updates.length = Math.min(stored.updates.length, previous.updates)
      }
    }
    if (this.options.plant === "forget-htlc") {
      for (const stored of this.h.persisterData[node]!.channels.values()) {
        const forgotten = forgetOneHtlc(channelStateJson(stored.channelState))
        if (forgotten === undefined) continue
        stored.channelState = forgotten
        break
      }
    }
    if (this.options.plant === "forget-forward") {
      const data = this.net.stores[node]!
      const forwards = data.table.list("pay/fwd/").map((e) => e.key)
      if (forwards.length > 0) data.table.apply(forwards.map((key) => ({ _tag: "Delete" as const, key })), ++data.version)
    }
  }

  // ---- the steps -------------------------------------------------------------------------------------------

  log(line: string): void {
    this.steps.push(line)
    this.options.onStep?.(line)
  }

  /** Restarts a node (crashed or running) from its stores, with its payment layer. */
  async restart(node: number): Promise<void> {
    await run(this.h.crash(node))
    this.applyPlant(node)
    await run(this.net.restart(node))
  }

  /** A crash point fired during the step: the node starts again from its store. */
  async recoverCrashed(): Promise<void> {
    for (let i = 0; i < 3; i++) if (this.h.hasCrashed(i)) await this.restart(i)
  }

  async step(cursor: Cursor): Promise<void> {
    const op = OPS[cursor.next() % OPS.length]!
    const h = this.h
    switch (op) {
      case "deliver": {
        const arg = cursor.next()
        const [from, to] = LINKS[arg & 3]!
        const count = 1 + ((arg >> 2) & 3)
        this.log(`deliver ${NAMES[from]}->${NAMES[to]} x${count}`)
        for (let i = 0; i < count; i++) {
          await run(h.deliver(from, to))
          await run(h.settleNodes)
        }
        break
      }
      case "deliverOldest": {
        const count = 1 + (cursor.next() & 7)
        this.log(`deliver oldest x${count}`)
        for (let i = 0; i < count; i++) await run(h.deliverNext())
        break
      }
      case "pay": {
        const [from, to] = ROUTES[cursor.next() % ROUTES.length]!
        const tier = cursor.next()
        // Small, medium, or about what a channel side can hold (a payment that may fail for capacity).
        const amount = tier < 96 ? 10_000n + BigInt(tier) * 1_000n : tier < 224 ? 1_000_000n + BigInt(tier) * 100_000n : 350_000_000n + BigInt(tier) * 1_000_000n
        this.log(`pay ${NAMES[from]}->${NAMES[to]} ${amount}`)
        if (!this.running(from)) break
        const payments = this.net.payments[from]
        if (payments === undefined) break
        const fiber = fork(Effect.result(payments.startKeysend(this.h.nodeIds[to]!, msat(amount))))
        this.starts.push(fiber)
        break
      }
      case "drop": {
        const arg = cursor.next()
        const [from, to] = LINKS[arg & 3]!
        const dropped = h.drop(from, to)
        // Some of the other direction may arrive before the connection breaks.
        const first = (arg >> 2) & 3
        this.log(`drop ${dropped?.message._tag ?? "nothing"} ${NAMES[from]}->${NAMES[to]}, ${first} back first, connection lost`)
        for (let i = 0; i < first; i++) {
          await run(h.deliver(to, from))
          await run(h.settleNodes)
        }
        await run(h.disconnect(from, to))
        break
      }
      case "disconnect": {
        const [a, b] = PAIRS[cursor.next() & 1]!
        this.log(`disconnect ${NAMES[a]}-${NAMES[b]}`)
        await run(h.disconnect(a, b))
        break
      }
      case "reconnect": {
        const [a, b] = PAIRS[cursor.next() & 1]!
        this.log(`reconnect ${NAMES[a]}-${NAMES[b]}`)
        await run(h.connect(a, b))
        break
      }
      case "hold": {
        const node = cursor.next() % 3
        this.log(`hold persistence of ${NAMES[node]}`)
        await run(h.setPersistence(node, "InProgress"))
        break
      }
      case "complete": {
        const arg = cursor.next()
        const node = arg % 3
        const order = (["fifo", "one", "reverse"] as const)[(arg >> 2) % 3]!
        this.log(`complete writes of ${NAMES[node]} (${order})`)
        await run(h.completeWrites(node, order))
        await run(h.settleNodes)
        break
      }
      case "immediate": {
        const node = cursor.next() % 3
        this.log(`persistence of ${NAMES[node]} completes at once`)
        await run(h.setPersistence(node, "Completed"))
        await run(h.completeWrites(node))
        await run(h.settleNodes)
        break
      }
      case "restart": {
        const arg = cursor.next()
        const node = arg % 3
        this.log(`restart ${NAMES[node]}`)
        await this.restart(node)
        break
      }
      case "armCrash": {
        const arg = cursor.next()
        const node = arg % 3
        const k = 1 + ((arg >> 2) & 7)
        const when = (arg & 0x80) === 0 ? "before" : "after"
        this.log(`arm crash of ${NAMES[node]} at persist ${k} (${when})`)
        if (this.running(node)) h.armCrash(node, { persistCall: k, when })
        break
      }
      case "fee": {
        const arg = cursor.next()
        const c = this.channels[arg & 1]!
        const feerate = 1_250 + ((arg >> 1) & 127) * 70
        this.log(`update_fee ${NAMES[c.a]}-${NAMES[c.b]} to ${feerate} by ${NAMES[c.a]}`)
        if (this.running(c.a)) await run(h.command(c.a, c.channelId, { _tag: "UpdateFee", feeratePerKw: feerate }))
        break
      }
      case "mine": {
        const blocks = 1 + (cursor.next() & 1)
        if (this.mined + blocks > 12) {
          this.log("mine (no more blocks this case)")
          break
        }
        this.mined += blocks
        this.net.height += blocks
        this.log(`mine ${blocks} (height ${this.net.height})`)
        for (const c of this.channels) {
          const depth = h.depths.get(toHex(c.channelId))?.depth ?? 0
          await run(h.setDepth(c.channelId, depth + blocks))
        }
        break
      }
      case "settle": {
        this.log("settle")
        await this.settle(false)
        await this.quiescentChecks()
        break
      }
    }
    // The payment layers react to what the step did.
    await run(settleTasks(3))
    await run(h.settleNodes)
    await this.recoverCrashed()
    this.snapshotStores()
    await this.alwaysChecks()
  }

  // ---- the checks ------------------------------------------------------------------------------------------

  /** What holds after every step. */
  async alwaysChecks(): Promise<void> {
    const h = this.h
    if (h.violations.length > 0) this.fail(`sent ahead of the store: ${JSON.stringify(h.violations[0])}`)
    for (let i = 0; i < 3; i++) {
      const closed = h.eventsOf(i, "ChannelClosed")
      if (closed.length > 0) this.fail(`node ${NAMES[i]} closed a channel: ${JSON.stringify(closed[0], (_, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? toHex(v) : v))}`)
      const broadcasts = h.chain[i]!.filter((c) => c._tag === "Broadcast" && c.label !== "funding")
      if (broadcasts.length > 0) this.fail(`node ${NAMES[i]} broadcast ${broadcasts.map((b) => (b._tag === "Broadcast" ? b.label : b._tag)).join(", ")}`)
      if (!this.running(i)) continue
      for (const c of this.channelsOf(i)) {
        const s = await run(h.state(i, c.channelId))
        if (s === undefined) this.fail(`node ${NAMES[i]} lost channel ${NAMES[c.a]}-${NAMES[c.b]}`)
        // Restarted from the state stored before `channel_ready` was seen: Normal again once reconnected.
        if (s._tag === "WaitChannelReady") continue
        if (s._tag !== "Normal") this.fail(`node ${NAMES[i]}: channel ${NAMES[c.a]}-${NAMES[c.b]} is ${s._tag}`)
        const funding = FUNDING_SAT * 1000n
        const local = s.commitments.localCommit.spec
        const remote = s.commitments.remoteCommit.spec
        if (sumSpec(local) !== funding || sumSpec(remote) !== funding)
          this.fail(`node ${NAMES[i]}: channel ${NAMES[c.a]}-${NAMES[c.b]} does not conserve its funding: local ${sumSpec(local)}, remote ${sumSpec(remote)}`)
      }
    }
  }

  /** Every node running and connected, persistence completing, everything delivered. `final`: until every payment is resolved. */
  async settle(final: boolean): Promise<void> {
    const h = this.h
    for (let round = 0; round < 40; round++) {
      await this.recoverCrashed()
      for (let i = 0; i < 3; i++) {
        await run(h.setPersistence(i, "Completed"))
        const n = h.nodes[i]
        if (final && n !== undefined) n.crashAt = undefined
      }
      for (const [a, b] of PAIRS) await run(h.connect(a, b))
      await run(h.quiesce({ completeWrites: true }))
      await run(settleTasks(5))
      await run(h.settleNodes)
      if (this.anyCrashed()) continue
      if (await this.quiet(final)) return
      // Half way: what only a timer ends (a payment's deadline, default 60 s) is let run out.
      // (`CONSISTENCY_NO_DEADLINE=1`: never, so a payment that only its deadline ends is a failure.)
      if (final && round === 20 && process.env["CONSISTENCY_NO_DEADLINE"] === undefined) {
        this.stats.deadlines += 1
        this.options.onStep?.("(payments still pending: the clock moves past their deadlines)")
        await run(TestClock.adjust("10 minutes"))
      }
    }
    if (this.anyCrashed()) this.fail("a node kept crashing")
    const outbound = await this.outbound()
    const pending = outbound.filter((p) => p.status.status === "pending")
    this.fail(
      `the network does not settle: ${pending.length} payments pending (${pending.map((p) => `${NAMES[p.node]} ${p.status.amountMsat}`).join(", ")}), HTLCs left: ${await this.htlcsLeft()}`
    )
  }

  private anyCrashed(): boolean {
    return [0, 1, 2].some((i) => this.h.hasCrashed(i))
  }

  /** Nothing on the wire, nothing held by a persister; `final`: no payment pending and no HTLC left. */
  private async quiet(final: boolean): Promise<boolean> {
    for (let i = 0; i < 3; i++) if ((await run(this.h.pendingWrites(i))) > 0) return false
    if (!final) return true
    const outbound = await this.outbound()
    if (outbound.some((p) => p.status.status === "pending")) return false
    return (await this.htlcsLeft()) === 0
  }

  async htlcsLeft(): Promise<number> {
    let n = 0
    for (const c of this.channels)
      for (const node of [c.a, c.b]) {
        const s = await run(this.h.state(node, c.channelId))
        if (s?._tag === "Normal") n += s.commitments.localCommit.spec.htlcs.length + s.commitments.remoteCommit.spec.htlcs.length
      }
    return n
  }

  async outbound(): Promise<ReadonlyArray<{ readonly node: number; readonly status: OutboundStatus }>> {
    const all: Array<{ node: number; status: OutboundStatus }> = []
    for (let i = 0; i < 3; i++) {
      const p = this.net.payments[i]
      if (p === undefined || !this.running(i)) continue
      for (const status of await run(p.payments)) all.push({ node: i, status })
    }
    return all
  }

  /** At a quiescent point: both ends agree, monitors agree, nothing unrevoked, every HTLC belongs to a started payment. */
  async quiescentChecks(): Promise<void> {
    const h = this.h
    await this.alwaysChecks()
    const hashes = new Set((await this.outbound()).map((p) => toHex(p.status.paymentHash)))
    for (const c of this.channels) {
      const sa = await run(h.state(c.a, c.channelId))
      const sb = await run(h.state(c.b, c.channelId))
      if (sa === undefined || sb === undefined) this.fail(`channel ${NAMES[c.a]}-${NAMES[c.b]} missing once settled`)
      const problems = agreement(sa, sb)
      if (problems.length > 0) this.fail(`the ends of ${NAMES[c.a]}-${NAMES[c.b]} disagree: ${problems.join("; ")}`)
      const monitors = [...(await run(h.monitorAgreement(c.a, c.b, c.channelId))), ...(await run(h.monitorAgreement(c.b, c.a, c.channelId)))]
      if (monitors.length > 0) this.fail(`a monitor of ${NAMES[c.a]}-${NAMES[c.b]} disagrees with its channel: ${monitors.join("; ")}`)
      const both: ReadonlyArray<ChannelState> = [sa, sb]
      for (const s of both) {
        if (s._tag !== "Normal") continue
        if (s.commitments.remoteNextCommitInfo._tag !== "NextPoint") this.fail(`channel ${NAMES[c.a]}-${NAMES[c.b]}: a commitment is still unrevoked once settled`)
        for (const x of s.commitments.localCommit.spec.htlcs)
          if (!hashes.has(toHex(x.paymentHash))) this.fail(`channel ${NAMES[c.a]}-${NAMES[c.b]} holds an HTLC no payment started (${toHex(x.paymentHash).slice(0, 16)})`)
      }
    }
  }

  /** The end: everything settles, every payment is resolved, no HTLC is left, the money adds up. */
  async finish(): Promise<void> {
    this.log("final settle")
    await this.settle(true)
    await this.quiescentChecks()
    if ((await this.htlcsLeft()) > 0) this.fail("HTLCs left once everything settled")
    const outbound = await this.outbound()
    const expected = [...this.initial]
    for (const { node, status } of outbound) {
      if (status.status === "pending") this.fail(`a payment of ${NAMES[node]} is still pending`)
      let payee: number | undefined
      for (let j = 0; j < 3; j++) {
        if (j === node) continue
        const inbound = await run(this.net.pay(j).invoice(status.paymentHash))
        if (inbound?.status === "paid") {
          if (payee !== undefined) this.fail(`payment ${toHex(status.paymentHash).slice(0, 16)} was received twice`)
          payee = j
          if (inbound.receivedMsat !== status.amountMsat) this.fail(`payee ${NAMES[j]} received ${inbound.receivedMsat} of ${status.amountMsat}`)
        }
      }
      if (status.status === "succeeded") {
        if (payee === undefined) this.fail(`payment of ${NAMES[node]} (${status.amountMsat}) succeeded but nobody received it`)
        expected[node] = expected[node]! - status.amountMsat - status.feePaidMsat
        expected[payee] = expected[payee]! + status.amountMsat
        if (status.feePaidMsat > 0n) expected[1] = expected[1]! + status.feePaidMsat
        this.stats.succeeded += 1
      } else if (payee !== undefined) this.fail(`payment of ${NAMES[node]} failed but ${NAMES[payee]} received it`)
      else this.stats.failed += 1
    }
    for (let i = 0; i < 3; i++) {
      const actual = await this.nodeBalance(i)
      if (actual !== expected[i]) this.fail(`node ${NAMES[i]} holds ${actual} msat, expected ${expected[i]} (funds ${actual > expected[i]! ? "created" : "lost"})`)
    }
    this.stats.restarts = this.h.log.filter((l) => l.startsWith("restart")).length
    this.stats.messages = this.h.wire.length
    this.stats.logDigest = toHex(sha256(new TextEncoder().encode(this.h.log.join("\n")))).slice(0, 16)
  }

  /** What the run did (for statistics: a fuzzer whose payments never succeed would test little). */
  stats = { succeeded: 0, failed: 0, restarts: 0, messages: 0, deadlines: 0, logDigest: "" }

  async close(): Promise<void> {
    for (const f of this.starts) f.interruptUnsafe()
    await run(this.net.shutdown)
  }
}

const defaultSteps = (): number => Number(process.env["CONSISTENCY_STEPS"] ?? 48)

/** Runs one program. The harness seed comes from the program's bytes, so the bytes alone decide the run. */
export interface ConsistencyResult {
  readonly steps: number
  readonly succeeded: number
  readonly failed: number
  readonly restarts: number
  readonly messages: number
  /** 1 if the final settle had to move the clock past the payments' deadlines. */
  readonly deadlines: number
  /** A digest of the harness's log (every delivery, drop, restart...): the same program, the same digest. */
  readonly logDigest: string
}

export const runConsistency = async (data: Uint8Array, options: ConsistencyOptions = {}): Promise<ConsistencyResult> => {
  const seed = `consistency/${toHex(data.subarray(0, 8))}`
  const clockScope = Effect.runSync(Scope.make())
  clockContext = await Effect.runPromise(Layer.buildWithScope(TestClock.layer({ warningDelay: "1 hour" }), clockScope))
  const r = await ConsistencyRun.make(seed, options)
  try {
    const cursor = new Cursor(data)
    const max = options.maxSteps ?? defaultSteps()
    let steps = 0
    while (!cursor.done && steps < max) {
      await r.step(cursor)
      steps++
    }
    await r.finish()
    return { steps, ...r.stats }
  } finally {
    await r.close()
    await Effect.runPromise(Scope.close(clockScope, Exit.void))
    clockContext = undefined
  }
}

/** Programs the mutations start from: payments both ways and through B, under every fault kind. */
export const seeds: ReadonlyArray<Uint8Array> = [
  // pay A->C, deliver everything, settle.
  [6, 4, 100, 4, 255, 4, 255, 4, 255, 20, 0],
  // pay A->B and C->B, restart B mid-way, reconnect, settle.
  [6, 0, 50, 7, 3, 150, 0, 1, 0, 3, 16, 1, 11, 0, 11, 1, 20, 0],
  // hold B's persistence, pay A->C, deliver, complete reversed, update fees, settle.
  [12, 1, 6, 4, 120, 4, 255, 4, 255, 13, 9, 18, 0, 18, 1, 20, 0],
  // pay C->A, drop on B->A, reconnect, arm a crash of B, pay again, mine, settle.
  [6, 5, 60, 4, 255, 9, 1, 11, 0, 17, 0x85, 6, 5, 70, 4, 255, 19, 1, 20, 0],
  // two payments through B, deliver link by link, disconnect B-C in the middle.
  [6, 4, 30, 6, 5, 40, 0, 0, 1, 2, 10, 1, 0, 12, 2, 15, 11, 1, 20, 0]
].map((b) => Uint8Array.from(b))

/** Programs: uniform random bytes (every action equally likely), and mutations of the seeds. */
export const inputs: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 16, maxLength: 128, size: "max" }) },
  { weight: 2, arbitrary: fuzzInputs(seeds) }
)

/** The async fuzz entry (`fuzz/engine.ts`): throws a `ConsistencyFailure` when an invariant breaks. */
export const fuzzAsync = async (data: Uint8Array): Promise<void> => {
  // `CONSISTENCY_VERBOSE=1` prints each step as it runs (with `--seed N`: follow one case).
  await runConsistency(data, process.env["CONSISTENCY_VERBOSE"] === undefined ? {} : { onStep: (line) => console.log(`  ${line}`) })
}

