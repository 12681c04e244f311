/**
 * Full-node fuzz target: one node of ours, Alice (`PeerManager` + `ChannelManager` over the
 * memory network, on a `TestClock`), with an honest peer, Bob (the same stack), and a channel
 * Bob -> Alice in `Normal`. Mallory, a raw peer (test/sim/RawPeer.ts), is driven by the fuzzer's
 * bytes. The first byte chooses the mode:
 *
 * - raw (pre-handshake): Mallory connects and writes the rest of the bytes as they are (in
 *   chunks, some behind a genuine act 1), then closes;
 * - session: Mallory completes BOLT 8 and `init`, then runs a program, one byte choosing each
 *   step: arbitrary messages (a type from the known ones or any, an arbitrary payload), mutated
 *   templates (open_channel, funding_created, channel_reestablish / update_add_htlc / shutdown /
 *   update_fee / error for Bob's channel id, error for all channels, warning, ping, a second
 *   init, gossip queries), floods of open_channel with fresh temporary ids, unencrypted garbage,
 *   a lone oversized header, a reconnection (new handshake), and Alice's API commands (open a
 *   channel to Mallory, disconnect her, list peers and channels, `update_fee` and an HTLC on
 *   Bob's channel), and simulated time passing (pings and their timeouts).
 *
 * What must hold: no step takes more than a bounded number of scheduler turns (no hang) and no
 * defect escapes (no crash); while Mallory is connected, Alice keeps at most one connection for
 * her and a bounded number of channels with her (`MAX_MALLORY_CHANNELS`); once Mallory is gone
 * (and two ping intervals passed), Alice lists only Bob and keeps no channel with Mallory that
 * never got funded; Bob's channel is still `Normal` on both ends and carries an HTLC each way.
 *
 * `npm run fuzz -- full-node SECONDS`; a failure prints its case seed, and
 * `npm run fuzz -- full-node --seed N` reruns it.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Exit, Fiber, References, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { MAX_INBOUND_UNFUNDED_PER_PEER } from "../../src/actors/ChannelManager.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import { equalBytes, toHex } from "../../src/protocol/bytes.ts"
import { channelTypeToBytes } from "../../src/protocol/channel/open.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { featuresToBytes, ourInitFeatures } from "../../src/protocol/features.ts"
import { ChainHashes, LightningMessages, OpenChannel } from "../../src/protocol/messages/index.ts"
import { type ChannelId, msat, type NodeId, sat } from "../../src/protocol/units.ts"
import { fakeFundingTx, PORT, startChannelNode, type TestNode } from "../../test/actors/ChannelManagerHarness.ts"
import { dialRaw, initMessage, type RawPeer } from "../../test/sim/RawPeer.ts"
import { nobleChaChaPoly } from "../../src/protocol/crypto/aead.ts"
import * as HS from "../../src/protocol/noise/handshake.ts"
import { fuzzInputs } from "../engine.ts"

export const kind = "async"

/** Channels Mallory may have opened with Alice and left unfunded, at once (the bound this target checks). */
export const MAX_MALLORY_CHANNELS = MAX_INBOUND_UNFUNDED_PER_PEER

const ALICE = { host: "10.0.0.1", port: PORT }
const noise: HS.NoiseCrypto = { secp: nobleSecp256k1, aead: nobleChaChaPoly }

export class FullNodeFailure extends Error {
  constructor(message: string, steps: ReadonlyArray<string>) {
    super(`${message}\nsteps: ${steps.join("; ")}`)
    this.name = "FullNodeFailure"
  }
}

/** Lets the event loop turn once (every ready fiber runs). */
const macrotask: Effect.Effect<void> = Effect.callback<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

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
  take(n: number): Uint8Array {
    const out = this.data.slice(this.i, this.i + n)
    this.i += n
    return out
  }
}

const be16 = (n: number): Uint8Array => Uint8Array.of((n >> 8) & 0xff, n & 0xff)
const be32 = (n: number): Uint8Array => Uint8Array.of((n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
const be64 = (n: bigint): Uint8Array => Uint8Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * (7 - i))) & 0xffn))
const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const isNodeId = (b: Uint8Array): b is NodeId => b.length === 33
const isChannelId = (b: Uint8Array): b is ChannelId => b.length === 32
const channelIdOf = (b: Uint8Array): ChannelId => {
  if (!isChannelId(b)) throw new RangeError("a channel id is 32 bytes")
  return b
}
const MALLORY_ID: NodeId = (() => {
  const id = nobleSecp256k1.publicKey(secretFromSeed("mallory")) ?? new Uint8Array(0)
  if (!isNodeId(id)) throw new Error("Mallory's node id")
  return id
})()

const point = (label: string): Uint8Array => nobleSecp256k1.publicKey(secretFromSeed(`mallory/${label}`)) ?? new Uint8Array(33)

/** A valid `open_channel` from Mallory (Alice accepts it and waits for `funding_created`). */
const openChannelBytes = (temporaryChannelId: Uint8Array): Uint8Array => {
  const m = OpenChannel.make(
    {
      chainHash: ChainHashes.regtest,
      temporaryChannelId: channelIdOf(temporaryChannelId),
      fundingSatoshis: sat(500_000n),
      pushMsat: msat(0n),
      dustLimitSatoshis: sat(354n),
      maxHtlcValueInFlightMsat: msat(500_000_000n),
      channelReserveSatoshis: sat(5_000n),
      htlcMinimumMsat: msat(1n),
      feeratePerKw: 2_500,
      toSelfDelay: 144,
      maxAcceptedHtlcs: 30,
      fundingPubkey: point("funding"),
      revocationBasepoint: point("revocation"),
      paymentBasepoint: point("payment"),
      delayedPaymentBasepoint: point("delayed"),
      htlcBasepoint: point("htlc"),
      firstPerCommitmentPoint: point("first"),
      channelFlags: 0
    },
    { upfrontShutdownScript: new Uint8Array(0), channelType: channelTypeToBytes({ name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false }) }
  )
  const r = LightningMessages.encode(m)
  if (Result.isFailure(r)) throw new Error(`open_channel does not encode: ${r.failure.reason}`)
  return r.success
}

/** Message templates (valid or nearly: the fuzzer mutates them). `bob` is Bob's channel id. */
const templates = (bob: Uint8Array, tempId: Uint8Array): ReadonlyArray<Uint8Array> => [
  openChannelBytes(tempId),
  // funding_created for the temporary id (a made-up funding outpoint and signature).
  concat(be16(34), tempId, new Uint8Array(32).fill(7), be16(0), new Uint8Array(64).fill(1)),
  // channel_reestablish for Bob's channel (not Mallory's to touch).
  concat(be16(136), bob, be64(1n), be64(0n), new Uint8Array(32), point("reestablish")),
  // update_add_htlc on Bob's channel.
  concat(be16(128), bob, be64(0n), be64(1_000_000n), new Uint8Array(32).fill(9), be32(800), new Uint8Array(1366)),
  // shutdown of Bob's channel.
  concat(be16(38), bob, be16(22), Uint8Array.of(0x00, 0x14), new Uint8Array(20).fill(3)),
  // update_fee on Bob's channel.
  concat(be16(134), bob, be32(10_000)),
  // error for Bob's channel, and for all channels (all-zero id).
  concat(be16(17), bob, be16(4), Uint8Array.of(0x62, 0x6f, 0x6f, 0x6d)),
  concat(be16(17), new Uint8Array(32), be16(4), Uint8Array.of(0x62, 0x6f, 0x6f, 0x6d)),
  // warning for all channels.
  concat(be16(1), new Uint8Array(32), be16(2), Uint8Array.of(0x68, 0x69)),
  // ping asking for 100 bytes, a second init.
  concat(be16(18), be16(100), be16(4), new Uint8Array(4)),
  initMessage(featuresToBytes(new Set([1, 5]))),
  // query_channel_range (all blocks), gossip_timestamp_filter.
  concat(be16(263), ChainHashes.regtest, be32(0), be32(0xffffffff)),
  concat(be16(265), ChainHashes.regtest, be32(0), be32(0xffffffff)),
  // funding_signed and channel_ready for Bob's channel id.
  concat(be16(35), bob, new Uint8Array(64).fill(2)),
  concat(be16(36), bob, point("ready"))
]

const KNOWN_TYPES = [1, 16, 17, 18, 19, 32, 33, 34, 35, 36, 38, 39, 128, 130, 131, 132, 133, 134, 135, 136, 256, 257, 258, 259, 261, 263, 264, 265]

const mutate = (template: Uint8Array, cursor: Cursor): Uint8Array => {
  const out = template.slice()
  const edits = cursor.next() & 3
  for (let i = 0; i < edits; i++) {
    const at = (cursor.next() << 8) | cursor.next()
    // Never the type (bytes 0-1): the template's message stays that message, its fields change.
    const pos = 2 + (at % Math.max(1, out.length - 2))
    if (pos < out.length) out[pos] = cursor.next()
  }
  const cut = cursor.next()
  // Sometimes truncated (a field missing) or extended (trailing bytes / a TLV stream).
  if (cut < 16) return out.subarray(0, Math.max(2, out.length - 1 - cut))
  if (cut > 240) return concat(out, cursor.take(cut - 240))
  return out
}

type Step = (cursor: Cursor) => Effect.Effect<void, unknown, Scope.Scope>

export interface FullNodeOptions {
  /** At most this many steps (default `FULL_NODE_STEPS` or 40). */
  readonly maxSteps?: number
  readonly onStep?: (line: string) => void
}

export interface FullNodeResult {
  readonly mode: "raw" | "session"
  readonly steps: number
  /** Mallory's connections that completed the handshake and init. */
  readonly sessions: number
  /** The most channels Alice held with Mallory at once. */
  readonly maxMalloryChannels: number
}

const defaultSteps = (): number => Number(process.env["FULL_NODE_STEPS"] ?? 40)

/** Turns the scheduler until `done` holds; fails (a hang) after `rounds` turns. */
const until = (what: string, done: () => Effect.Effect<boolean>, rounds = 3_000): Effect.Effect<void, FullNodeFailure> =>
  Effect.gen(function*() {
    for (let i = 0; i < rounds; i++) {
      if (yield* done()) return
      yield* macrotask
    }
    return yield* Effect.fail(new FullNodeFailure(`hang: ${what} after ${rounds} scheduler turns`, []))
  })

/** Runs an effect as a fiber and waits a bounded number of turns for it (a hang otherwise). */
const bounded = <A, E>(what: string, effect: Effect.Effect<A, E>, rounds = 3_000): Effect.Effect<Exit.Exit<A, E>, FullNodeFailure> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkDetach(effect)
    for (let i = 0; i < rounds; i++) {
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) return exit
      yield* macrotask
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.fail(new FullNodeFailure(`hang: ${what} did not return within ${rounds} scheduler turns`, []))
  })

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Opens Bob -> Alice and brings it to Normal on both sides. */
const openBobChannel = (alice: TestNode, bob: TestNode): Effect.Effect<ChannelId, unknown> =>
  Effect.gen(function*() {
    // Retried until Alice's manager has seen the connection (`PeerNotConnected` before).
    const opened: { id?: ChannelId } = {}
    yield* until("Bob's open", () =>
      Effect.map(Effect.result(bob.channels.openChannel(alice.peers.nodeId, sat(1_000_000n), { pushAmount: msat(300_000_000n) })), (r) => {
        if (Result.isSuccess(r)) opened.id = r.success
        return Result.isSuccess(r)
      }))
    const tid = opened.id
    if (tid === undefined) return yield* Effect.die(new Error("no temporary channel id"))
    const needed = () => bob.events.map((e) => e.event).find((e) => e._tag === "FundingNeeded" && equalBytes(e.temporaryChannelId, tid))
    yield* until("FundingNeeded", () => Effect.succeed(needed() !== undefined))
    const need = needed()
    if (need?._tag !== "FundingNeeded") return yield* Effect.die(new Error("no FundingNeeded"))
    yield* bob.channels.fundChannel(tid, fakeFundingTx(need.scriptPubKey, need.amount))
    const pendingOf = (n: TestNode) => n.events.map((e) => e.event).find((e) => e._tag === "ChannelPending")
    yield* until("ChannelPending", () => Effect.succeed(pendingOf(alice) !== undefined && pendingOf(bob) !== undefined))
    const pending = pendingOf(bob)
    if (pending?._tag !== "ChannelPending") return yield* Effect.die(new Error("no ChannelPending"))
    const channelId = pending.channelId
    const scid = shortChannelIdFromParts(100, 1, 0)
    for (const n of [alice, bob]) yield* n.channels.chainFact(channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid })
    const normal = (n: TestNode) => Effect.map(Effect.result(n.channels.channel(channelId)), (r) => Result.isSuccess(r) && r.success.phase === "Normal")
    yield* until("Bob's channel Normal", () => Effect.zipWith(normal(alice), normal(bob), (a, b) => a && b))
    return channelId
  })

let paymentCounter = 0

/** `payer` adds an HTLC on the channel, the payee fulfills it: bounded in scheduler turns. */
const htlcRoundTrip = (payer: TestNode, payee: TestNode, channelId: ChannelId): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    const preimage = sha256(text(`full-node/${paymentCounter++}`))
    const paymentHash = sha256(preimage)
    const from = payee.events.length
    const added = yield* bounded("addHtlc on Bob's channel", payer.channels.addHtlc(channelId, { amount: msat(1_000_000n), paymentHash, cltvExpiry: 800, onion: new Uint8Array(1366) }))
    if (Exit.isFailure(added)) return yield* Effect.fail(new FullNodeFailure(`Bob's channel refuses an HTLC: ${String(added.cause)}`, []))
    const htlcId = added.value
    const received = () => payee.events.slice(from).map((e) => e.event).find((e) => e._tag === "HtlcReceived" && equalBytes(e.paymentHash, paymentHash))
    yield* until("the HTLC on Bob's channel reaches the payee", () => Effect.succeed(received() !== undefined))
    const r = received()
    if (r?._tag !== "HtlcReceived") return yield* Effect.die(new Error("no HtlcReceived"))
    const fulfilled = yield* bounded("fulfillHtlc on Bob's channel", payee.channels.fulfillHtlc(channelId, r.htlcId, preimage))
    if (Exit.isFailure(fulfilled)) return yield* Effect.fail(new FullNodeFailure(`Bob's channel refuses a fulfill: ${String(fulfilled.cause)}`, []))
    yield* until("the fulfill on Bob's channel reaches the payer", () =>
      Effect.succeed(payer.events.some((e) => e.event._tag === "HtlcResolved" && e.event.htlcId === htlcId && equalBytes(e.channelId, channelId))))
  })

const run = (data: Uint8Array, options: FullNodeOptions): Effect.Effect<FullNodeResult, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const steps: Array<string> = []
    const log = (line: string) => {
      steps.push(line)
      options.onStep?.(line)
    }
    const failWith = (message: string) => Effect.fail(new FullNodeFailure(message, steps))
    const net = yield* makeMemoryNetwork()
    const alice = yield* startChannelNode(net, "alice", ALICE.host)
    const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
    yield* bob.peers.connect(alice.peers.nodeId, ALICE)
    const bobChannel = yield* openBobChannel(alice, bob)
    const cursor = new Cursor(data)
    const mode = (cursor.next() & 7) === 0 ? "raw" : "session"
    const malloryId = MALLORY_ID
    const isMallory = (id: Uint8Array) => equalBytes(id, malloryId)
    /** Channels Alice opened to Mallory through the API (hers to keep listing, closed or not). */
    const ownOpens = new Set<string>()
    const malloryChannels = Effect.map(alice.channels.listChannels, (cs) =>
      cs.filter((c) => isMallory(c.nodeId) && !ownOpens.has(toHex(c.channelId)) && !(c.state._tag === "Closed" && ownOpens.has(toHex(c.state.channelId)))))
    let maxMalloryChannels = 0
    let sessions = 0
    let count = 0
    const max = options.maxSteps ?? defaultSteps()

    if (mode === "raw") {
      log("raw bytes before the handshake")
      const transport = net.transport("10.6.6.6")
      const conn = yield* transport.connect(ALICE)
      // Drain what Alice answers (act 2), so she never waits on us.
      yield* Effect.forkDetach(Effect.forever(conn.read))
      // Odd second byte: a genuine act 1 first, so the bytes that follow are read as act 3.
      if ((cursor.next() & 1) === 1) {
        const one = HS.initiatorActOne(noise, {
          localStatic: MALLORY_ID,
          remoteStatic: alice.peers.nodeId,
          ephemeralSecret: secretFromSeed("mallory/raw-ephemeral")
        })
        if (Result.isSuccess(one)) {
          log("a genuine act 1")
          yield* Effect.ignore(conn.write(one.success.act))
        }
      }
      while (!cursor.done && count < max) {
        const n = 1 + (cursor.next() & 63)
        const chunk = cursor.take(n)
        yield* Effect.ignore(conn.write(chunk))
        for (let i = 0; i < 3; i++) yield* macrotask
        count++
      }
      yield* conn.close
    } else {
      let mallory: RawPeer | undefined
      let ephemeral = 0
      const scope = yield* Effect.scope
      const connectMallory = Effect.gen(function*() {
        const dialed = yield* bounded(
          "Mallory's handshake",
          Effect.gen(function*() {
            const peer = yield* dialRaw(net.transport("10.6.6.6"), ALICE, alice.peers.nodeId, "mallory", secretFromSeed(`mallory/ephemeral/${ephemeral++}`))
            yield* peer.receiveTag("Init")
            yield* peer.send(initMessage(ourInitFeatures))
            return peer
          }).pipe(Scope.provide(scope))
        )
        if (Exit.isFailure(dialed)) {
          log("(handshake refused)")
          mallory = undefined
          return
        }
        mallory = dialed.value
        sessions += 1
        // Read and drop what Alice sends (she is never blocked by a full pipe).
        const reader = mallory
        yield* Effect.forkDetach(Effect.forever(reader.receive))
        yield* until("Alice lists Mallory", () => Effect.map(alice.peers.peers, (ps) => ps.some((p) => isMallory(p.nodeId))), 500).pipe(Effect.ignore)
      })
      yield* connectMallory
      const tempId = () => sha256(Uint8Array.of(...text("mallory/temp/"), count & 0xff, (count >> 8) & 0xff, cursor.next()))
      const send = (bytes: Uint8Array) => (mallory === undefined ? Effect.void : Effect.ignore(mallory.send(bytes)))
      const ops: ReadonlyArray<readonly [string, Step]> = [
        ["message", (c) => Effect.gen(function*() {
          const t = c.next()
          const type = t < 200 ? KNOWN_TYPES[t % KNOWN_TYPES.length]! : ((t << 8) | c.next()) & 0xffff
          const payload = c.take(c.next() & 127)
          log(`message type ${type}, ${payload.length} bytes`)
          yield* send(concat(be16(type), payload))
        })],
        ["message", (c) => Effect.gen(function*() {
          const ts = templates(bobChannel, tempId())
          const i = c.next() % ts.length
          const m = mutate(ts[i]!, c)
          log(`template ${i} (type ${((m[0] ?? 0) << 8) | (m[1] ?? 0)}), ${m.length} bytes`)
          yield* send(m)
        })],
        ["message", (c) => Effect.gen(function*() {
          const ts = templates(bobChannel, tempId())
          const i = c.next() % ts.length
          log(`template ${i} as is`)
          yield* send(ts[i]!)
        })],
        ["flood", (c) => Effect.gen(function*() {
          const n = 1 + (c.next() & 31)
          log(`open_channel flood x${n}`)
          for (let k = 0; k < n; k++) yield* send(openChannelBytes(sha256(text(`flood/${count}/${k}/${c.next()}`))))
        })],
        ["garbage", (c) => Effect.gen(function*() {
          const bytes = c.take(1 + (c.next() & 63))
          log(`unencrypted garbage, ${bytes.length} bytes`)
          if (mallory !== undefined) yield* Effect.ignore(mallory.sendRaw(bytes))
        })],
        ["header", (c) => Effect.gen(function*() {
          const length = ((c.next() << 8) | c.next()) & 0xffff
          log(`a lone header announcing ${length} bytes`)
          if (mallory !== undefined) yield* Effect.ignore(mallory.sendHeader(length))
        })],
        ["reconnect", () => Effect.gen(function*() {
          log("Mallory reconnects")
          if (mallory !== undefined) yield* mallory.connection.close
          yield* connectMallory
        })],
        ["api", (c) => Effect.gen(function*() {
          const which = c.next() % 6
          switch (which) {
            case 0: {
              log("API: Alice opens a channel to Mallory")
              const opened = yield* bounded("openChannel to Mallory", alice.channels.openChannel(malloryId, sat(200_000n + BigInt(c.next()) * 1_000n)))
              if (Exit.isSuccess(opened)) ownOpens.add(toHex(opened.value))
              return
            }
            case 1: {
              log("API: Alice disconnects Mallory")
              yield* bounded("disconnect Mallory", alice.peers.disconnect(malloryId))
              return
            }
            case 2: {
              log("API: list peers and channels")
              yield* bounded("peers", alice.peers.peers)
              yield* bounded("listChannels", alice.channels.listChannels)
              return
            }
            case 3: {
              log("API: update_fee on Bob's channel")
              yield* bounded("updateFee", alice.channels.updateFee(bobChannel, 2_000 + c.next() * 10))
              return
            }
            case 4: {
              log("API: an HTLC Bob -> Alice while Mallory is on")
              yield* htlcRoundTrip(bob, alice, bobChannel)
              return
            }
            default: {
              log("API: Mallory's channels")
              yield* bounded("channel of Mallory", Effect.gen(function*() {
                for (const ch of yield* malloryChannels) yield* Effect.ignore(alice.channels.channel(ch.channelId))
              }))
            }
          }
        })],
        ["time", (c) => Effect.gen(function*() {
          const seconds = 1 + (c.next() & 127)
          log(`${seconds} s pass`)
          yield* TestClock.adjust(`${seconds} seconds`)
        })]
      ]
      while (!cursor.done && count < max) {
        const [, step] = ops[cursor.next() % ops.length]!
        yield* step(cursor)
        // Until Alice has handled what Mallory sent (her channel count stays still for a few turns).
        let last = -1
        for (let still = 0, turns = 0; still < 4 && turns < 300; turns++) {
          yield* macrotask
          const now = (yield* alice.channels.listChannels).length
          still = now === last ? still + 1 : 0
          last = now
        }
        count++
        const peers = (yield* alice.peers.peers).filter((p) => isMallory(p.nodeId)).length
        if (peers > 1) return yield* failWith(`Alice holds ${peers} connections for Mallory`)
        const mine = (yield* malloryChannels).length
        maxMalloryChannels = Math.max(maxMalloryChannels, mine)
        if (mine > MAX_MALLORY_CHANNELS) return yield* failWith(`Alice holds ${mine} channels Mallory opened (more than ${MAX_MALLORY_CHANNELS}): unbounded growth`)
      }
      if (mallory !== undefined) yield* mallory.connection.close
    }

    // Mallory is gone: two ping intervals pass.
    log("Mallory is gone")
    for (let i = 0; i < 8; i++) {
      yield* TestClock.adjust("30 seconds")
      for (let k = 0; k < 5; k++) yield* macrotask
    }
    yield* until("Alice forgets Mallory's connection", () => Effect.map(alice.peers.peers, (ps) => !ps.some((p) => isMallory(p.nodeId))), 500).pipe(
      Effect.catch(() => failWith("Alice still lists Mallory after she left"))
    )
    const left = yield* malloryChannels
    if (left.length > 0) return yield* failWith(`Alice keeps ${left.length} channels Mallory opened and never funded after she left (${left.map((c) => c.phase).join(", ")})`)
    const peers = yield* alice.peers.peers
    if (!peers.some((p) => equalBytes(p.nodeId, bob.peers.nodeId))) return yield* failWith("Alice lost her connection to Bob")
    for (const n of [alice, bob]) {
      const info = yield* n.channels.channel(bobChannel)
      if (info.phase !== "Normal") return yield* failWith(`${n.name}: Bob's channel is ${info.phase}`)
    }
    const closed = [...alice.events, ...bob.events].filter((e) => e.event._tag === "ChannelClosed" && equalBytes(e.channelId, bobChannel))
    if (closed.length > 0) return yield* failWith("Bob's channel was closed")
    yield* htlcRoundTrip(bob, alice, bobChannel).pipe(Effect.mapError((e) => new FullNodeFailure(`Bob -> Alice after Mallory: ${String(e)}`, steps)))
    yield* htlcRoundTrip(alice, bob, bobChannel).pipe(Effect.mapError((e) => new FullNodeFailure(`Alice -> Bob after Mallory: ${String(e)}`, steps)))
    return { mode, steps: count, sessions, maxMalloryChannels }
  })

/** Runs one program on a fresh Alice, Bob and Mallory (its own `TestClock`). */
export const runFullNode = (data: Uint8Array, options: FullNodeOptions = {}): Promise<FullNodeResult> =>
  Effect.runPromise(
    run(data, options).pipe(
      Effect.scoped,
      Effect.provide(TestClock.layer({ warningDelay: "1 hour" })),
      // Mallory makes the nodes log a lot at Info (connections, refusals): errors only.
      Effect.provideService(References.MinimumLogLevel, "Error")
    )
  )

/** Programs: session mode mostly (first byte not a multiple of 8), and mutations of the seeds. */
export const inputs: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 8, maxLength: 200, size: "max" }) },
  { weight: 2, arbitrary: fuzzInputs(makeSeeds()) }
)

function makeSeeds(): ReadonlyArray<Uint8Array> {
  return [
    // session: an open_channel as is, list, a flood, time, reconnect, an HTLC on Bob's channel.
    [1, 2, 0, 7, 2, 3, 20, 8, 60, 6, 7, 4],
    // session: mutated templates for Bob's channel id, errors, garbage.
    [1, 1, 2, 1, 0, 5, 9, 100, 1, 6, 0, 0, 0, 100, 4, 8, 1, 2, 3, 4, 5, 6, 7, 8],
    // session: a lone big header, then time passes.
    [1, 5, 0xff, 0xff, 8, 90, 8, 90],
    // raw: a few chunks of garbage.
    [0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 63, ...new Array<number>(64).fill(0xab)]
  ].map((b) => Uint8Array.from(b))
}

export const seeds: ReadonlyArray<Uint8Array> = makeSeeds()

/** The async fuzz entry (`fuzz/engine.ts`). */
export const fuzzAsync = async (data: Uint8Array): Promise<void> => {
  await runFullNode(data)
}

