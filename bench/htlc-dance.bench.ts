/**
 * The pure side of the channel path, without actors, Effect runtime or stores: two channels'
 * reducers (`step`) and signers (`SeedChannelSigner`) driven synchronously through HTLC round
 * trips (add, `commitment_signed`/`revoke_and_ack` both ways, fulfill, the same again), one at a
 * time and with 50 in flight, with what the persistence path encodes on each `Persist` (the
 * channel state and the signer's policy state, as JSON text: the Schema encoding and the
 * hand-written one). CPU microseconds per round trip by part, and the secp256k1 share.
 *
 * What `npm run bench -- channel` measures end to end, minus what is not pure (the actors,
 * the Effect runtime, the monitors, the store): a floor for it, and the place to profile the
 * reducer, the signer and the record encoding (HTLC_DANCE_PROFILE=<path> writes a V8 CPU profile
 * of the measured runs; HTLC_DANCE_MS sets their length). Each figure is given per wall second
 * and per CPU second of the JS thread (the one to compare on a shared machine), with the
 * secp256k1 calls per round trip (or per HTLC) by operation. `openDriver`, `addHtlc` and
 * `settle` are exported for scripts that drive the same dance (A/B comparisons).
 *
 * Run: `npm run bench -- htlc-dance`.
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Result, Schema } from "effect"
import { performSignerRequest } from "../src/actors/Channel.ts"
import { loadSecp256k1Best } from "../src/layers/crypto/secp256k1-best.ts"
import { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
import { toHex } from "../src/protocol/bytes.ts"
import { hasChangesToSign } from "../src/protocol/channel/commitments.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig } from "../src/protocol/channel/config.ts"
import type { ChannelEvent, ChannelInput, ChannelOutput, SignerRequest } from "../src/protocol/channel/io.ts"
import { type NegotiatedChannelType, signerChannelParameters } from "../src/protocol/channel/open.ts"
import { type ChannelState, ChannelStateSchema } from "../src/protocol/channel/state.ts"
import { encodeChannelStateJson } from "../src/protocol/channel/state-json.ts"
import { acceptChannel, openChannel, step, type StepContext } from "../src/protocol/channel/step.ts"
import { ChannelIdSchema, shortChannelIdFromParts } from "../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import type { FeatureName } from "../src/protocol/features.ts"
import type { ChannelMessage } from "../src/protocol/messages/channel.ts"
import { LightningMessages } from "../src/protocol/messages/index.ts"
import { ChainHashes } from "../src/protocol/messages/init.ts"
import { p2wpkhScript } from "../src/protocol/tx/bitcoin/script.ts"
import { makeInput, serializeTransaction, setWitness, type Transaction, txidFromBytes } from "../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, sat } from "../src/protocol/units.ts"
import { channelKeyId, type ChannelKeyId, type ChannelSignerShape, SignerChannelStateSchema } from "../src/services/ChannelSigner.ts"
import { encodeSignerChannelStateJson } from "../src/layers/signer/signer-state-json.ts"

const MEASURE_MS = Number(process.env["HTLC_DANCE_MS"] ?? 2_000)
const PROFILE = process.env["HTLC_DANCE_PROFILE"]
/* HTLC_DANCE_ONLY=schema,fast,none selects the record encodings measured (default: all). */
const WINDOW = 50
/** 10 BTC: room for 500,000 HTLCs of 2,000 sat from A to B (about 200 s of the fastest pass). */
const FUNDING = sat(1_000_000_000n)
const CHANNEL_TYPE: NegotiatedChannelType = { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false }

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const bytes32 = (label: string): Uint8Array => sha256(enc(label))

/** Wall time (ms) of the secp256k1 calls made through the returned instance (nested calls once), and calls per method. */
const timeSecp = (inner: Secp256k1): { readonly secp: Secp256k1; readonly ms: () => number; readonly calls: Map<string, number> } => {
  let total = 0
  const calls = new Map<string, number>()
  const wrap =
    <A extends ReadonlyArray<unknown>, R>(name: string, f: (...args: A) => R) =>
    (...args: A): R => {
      calls.set(name, (calls.get(name) ?? 0) + 1)
      const t0 = performance.now()
      try {
        return f(...args)
      } finally {
        total += performance.now() - t0
      }
    }
  return {
    ms: () => total,
    calls,
    secp: {
      name: inner.name,
      publicKey: wrap("publicKey", inner.publicKey),
      isValidSecret: wrap("isValidSecret", inner.isValidSecret),
      isValidPoint: wrap("isValidPoint", inner.isValidPoint),
      ecdh: wrap("ecdh", inner.ecdh),
      sign: wrap("sign", inner.sign),
      verify: wrap("verify", inner.verify),
      signRecoverable: wrap("signRecoverable", inner.signRecoverable),
      recover: wrap("recover", inner.recover),
      pointAdd: wrap("pointAdd", inner.pointAdd),
      pointTweakAdd: wrap("pointTweakAdd", inner.pointTweakAdd),
      pointMultiply: wrap("pointMultiply", inner.pointMultiply),
      ...(inner.pointMultiplyTweakAdd === undefined ? {} : { pointMultiplyTweakAdd: wrap("pointMultiplyTweakAdd", inner.pointMultiplyTweakAdd) }),
      secretAdd: wrap("secretAdd", inner.secretAdd),
      secretMultiply: wrap("secretMultiply", inner.secretMultiply)
    }
  }
}

class Parts {
  readonly ms = new Map<string, { ms: number; secp: number; n: number }>()
  private readonly secpMs: () => number
  constructor(secpMs: () => number) {
    this.secpMs = secpMs
  }
  time<A>(part: string, f: () => A): A {
    const t0 = performance.now()
    const s0 = this.secpMs()
    try {
      return f()
    } finally {
      const p = this.ms.get(part) ?? { ms: 0, secp: 0, n: 0 }
      p.ms += performance.now() - t0
      p.secp += this.secpMs() - s0
      p.n++
      this.ms.set(part, p)
    }
  }
  reset(): void {
    this.ms.clear()
  }
}

const features: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_data_loss_protect",
  "option_static_remotekey",
  "option_upfront_shutdown_script",
  "option_shutdown_anysegwit",
  "option_channel_type",
  "option_anchors",
  "option_support_large_channel"
])

interface Side {
  readonly name: string
  readonly signer: ChannelSignerShape
  readonly keyId: ChannelKeyId
  readonly ctx: StepContext
  state: ChannelState | undefined
  readonly inbox: Array<ChannelMessage>
}

let counter = 0
const makeSide = (name: string, secp: Secp256k1): Side => {
  const keyId = channelKeyId(bytes32(`${name}/${counter++}/key-id`))
  if (keyId === undefined) throw new Error("unreachable")
  return {
    name,
    signer: makeSeedChannelSigner(bytes32(`${name}/seed`), secp),
    keyId,
    ctx: {
      secp,
      config: { ...defaultLocalChannelConfig, maxAcceptedHtlcs: 483 },
      // A large channel (both sides take one): the passes move 2,000 sat per HTLC from A to B, and a
      // fast machine ran a 16M sat channel dry in one 50-in-flight pass (the add then refused).
      policy: { ...defaultChannelPolicy, maxFunding: FUNDING, acceptLargeChannels: true },
      chainHash: ChainHashes.regtest,
      features,
      feerateEstimatePerKw: 2500,
      maxDustHtlcExposure: msat(50_000_000n),
      peerTrustedForZeroConf: false,
      shutdownScript: p2wpkhScript(bytes32(`${name}/payout`).slice(0, 20))
    },
    state: undefined,
    inbox: []
  }
}

const run$ = <A, E>(effect: Effect.Effect<A, E>): A => {
  const r = Effect.runSync(Effect.result(effect))
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${JSON.stringify(r.failure)}`)
  return r.success
}

const encodeStateSchema = Schema.encodeSync(Schema.fromJsonString(ChannelStateSchema))
const encodeSignerSchema = Schema.encodeSync(Schema.fromJsonString(SignerChannelStateSchema))

type Encoding = "schema" | "fast" | "none"

export interface Driver {
  readonly a: Side
  readonly b: Side
  readonly parts: Parts
  encoding: Encoding
  fundingNeeded: Extract<ChannelEvent, { readonly _tag: "FundingNeeded" }> | undefined
  readonly preimages: Map<string, Uint8Array>
  resolved: number
  encodedBytes: number
}

const other = (d: Driver, s: Side): Side => (s === d.a ? d.b : d.a)

const answer = (d: Driver, side: Side, request: SignerRequest) =>
  d.parts.time("signer", () => {
    if (request._tag === "SignCounterpartyCommitment" && request.channel !== undefined) {
      run$(side.signer.readyChannel(side.keyId, signerChannelParameters(request.channel)))
    }
    return run$(performSignerRequest(side.signer, side.keyId, request))
  })

const perform = (d: Driver, side: Side, outputs: ReadonlyArray<ChannelOutput>): void => {
  for (const o of outputs) {
    switch (o._tag) {
      case "Persist": {
        const state = side.state
        if (state === undefined || d.encoding === "none") break
        d.parts.time("record encode", () => {
          const signer = run$(side.signer.channelState(side.keyId))
          const text = d.encoding === "schema"
            ? `{"channel":${encodeStateSchema(state)},"signer":${encodeSignerSchema(signer)}}`
            : `{"channel":${JSON.stringify(encodeChannelStateJson(state))},"signer":${JSON.stringify(encodeSignerChannelStateJson(signer))}}`
          d.encodedBytes += text.length
        })
        break
      }
      case "Send": {
        const bytes = d.parts.time("codec", () => LightningMessages.encode(o.message))
        if (Result.isFailure(bytes)) throw new Error("does not encode")
        const decoded = d.parts.time("codec", () => LightningMessages.decode(bytes.success))
        if (Result.isFailure(decoded)) throw new Error("does not decode")
        other(d, side).inbox.push(decoded.success as ChannelMessage)
        break
      }
      case "Emit": {
        const e = o.event
        if (e._tag === "FundingNeeded") d.fundingNeeded = e
        else if (e._tag === "HtlcReceived") {
          const preimage = d.preimages.get(toHex(e.paymentHash))
          if (preimage === undefined) throw new Error("unknown payment hash")
          d.preimages.delete(toHex(e.paymentHash))
          input(d, side, { _tag: "FulfillHtlc", htlcId: e.htlcId, preimage })
        } else if (e._tag === "HtlcResolved") d.resolved++
        else if (e._tag === "HtlcRejected" || e._tag === "ChannelClosed")
          throw new Error(`${side.name}: ${e._tag}${e._tag === "HtlcRejected" ? ` (${e.reason}; a pass longer than the channel's funds allow? HTLC_DANCE_MS)` : ""}`)
        break
      }
      case "SendError":
        throw new Error(`${side.name} failed the channel: ${o.message}`)
      case "Sign":
        input(d, side, { _tag: "Signed", result: answer(d, side, o.request) })
        break
      default:
        break
    }
  }
}

export const input = (d: Driver, side: Side, i: ChannelInput): void => {
  const state = side.state
  if (state === undefined) throw new Error(`${side.name} has no channel`)
  const r = d.parts.time("step", () => step(side.ctx, state, i))
  if (Result.isFailure(r)) throw new Error(`${side.name}: ${i._tag} rejected: ${JSON.stringify(r.failure)}`)
  side.state = r.success.state
  perform(d, side, r.success.outputs)
}

/** Delivers messages and signs what is pending (as the actors do after draining their mailboxes) until both are quiet. */
export const settle = (d: Driver): void => {
  for (let guard = 0; guard < 100_000; guard++) {
    const side = d.a.inbox.length > 0 ? d.a : d.b.inbox.length > 0 ? d.b : undefined
    if (side !== undefined) {
      const m = side.inbox.shift()
      if (m === undefined) continue
      if (m._tag === "OpenChannel") {
        const r = acceptChannel(side.ctx, m, {
          keyId: side.keyId,
          basepoints: run$(side.signer.channelPublicKeys(side.keyId)),
          firstPerCommitmentPoint: run$(side.signer.perCommitmentPoint(side.keyId, 0n))
        })
        if (Result.isFailure(r)) throw new Error(`accept refused: ${JSON.stringify(r.failure)}`)
        side.state = r.success.state
        perform(d, side, r.success.outputs)
      } else input(d, side, { _tag: "PeerMessage", message: m })
      continue
    }
    let signed = false
    for (const s of [d.a, d.b]) {
      const st = s.state
      if (st?._tag === "Normal" && st.awaiting === undefined && hasChangesToSign(st.commitments)) {
        const before = st
        input(d, s, { _tag: "SignNow" })
        if (s.state !== before) signed = true
      }
    }
    if (!signed) return
  }
  throw new Error("did not settle")
}

export const openDriver = (secp: Secp256k1): Driver => {
  const a = makeSide("A", secp)
  const b = makeSide("B", secp)
  const d: Driver = { a, b, parts: new Parts(() => 0), encoding: "none", fundingNeeded: undefined, preimages: new Map(), resolved: 0, encodedBytes: 0 }
  const opened = openChannel(a.ctx, {
    temporaryChannelId: Schema.decodeSync(ChannelIdSchema)(toHex(bytes32(`temp/${toHex(a.keyId)}`))) as ChannelId,
    keyId: a.keyId,
    fundingAmount: FUNDING,
    pushAmount: msat(0n),
    basepoints: run$(a.signer.channelPublicKeys(a.keyId)),
    firstPerCommitmentPoint: run$(a.signer.perCommitmentPoint(a.keyId, 0n)),
    feeratePerKw: 2500,
    channelType: CHANNEL_TYPE,
    announce: false
  })
  if (Result.isFailure(opened)) throw new Error("open refused")
  a.state = opened.success.state
  perform(d, a, opened.success.outputs)
  settle(d)
  const f = d.fundingNeeded
  if (f === undefined) throw new Error("no FundingNeeded")
  const tx: Transaction = setWitness(
    {
      version: 2,
      inputs: [makeInput({ txid: txidFromBytes(bytes32(`utxo ${toHex(a.keyId)}`)), vout: 0 }, 0xfffffffd)],
      outputs: [{ value: f.amount, scriptPubKey: f.scriptPubKey }],
      locktime: 0
    },
    0,
    [new Uint8Array(72), new Uint8Array(33)]
  )
  input(d, a, { _tag: "FundingTransaction", tx: serializeTransaction(tx) })
  settle(d)
  const scid = shortChannelIdFromParts(800_000, 1, 0)
  input(d, a, { _tag: "FundingDepth", depth: defaultLocalChannelConfig.minimumDepth, shortChannelId: scid })
  input(d, b, { _tag: "FundingDepth", depth: defaultLocalChannelConfig.minimumDepth, shortChannelId: scid })
  settle(d)
  if (a.state?._tag !== "Normal" || b.state?._tag !== "Normal") throw new Error("open did not finish")
  return d
}

let htlcCounter = 0
export const addHtlc = (d: Driver): void => {
  const preimage = bytes32(`preimage ${htlcCounter++}`)
  const paymentHash = sha256(preimage)
  d.preimages.set(toHex(paymentHash), preimage)
  input(d, d.a, {
    _tag: "AddHtlc",
    requestId: `r${htlcCounter}`,
    amount: msat(2_000_000n),
    paymentHash,
    cltvExpiry: 800_100,
    onion: new Uint8Array(1366).fill(7)
  })
}

/** One at a time: add, settle (B fulfills on receipt), until resolved. */
const oneAtATime = (d: Driver, ms: number): number => {
  const end = performance.now() + ms
  let n = 0
  while (performance.now() < end) {
    const before = d.resolved
    addHtlc(d)
    settle(d)
    if (d.resolved !== before + 1) throw new Error("round trip did not resolve")
    n++
  }
  return n
}

/** 50 in flight: add up to the window, sign what is pending, deliver one message at a time. */
const window = (d: Driver, ms: number): number => {
  const end = performance.now() + ms
  const start = d.resolved
  let added = 0
  while (performance.now() < end) {
    while (added - (d.resolved - start) < WINDOW) {
      addHtlc(d)
      added++
    }
    settle(d)
  }
  return d.resolved - start
}

/** CPU time (ms) of this thread: the figure to compare on a shared machine. */
const threadCpuMs = (): number => {
  const u = process.threadCpuUsage()
  return (u.user + u.system) / 1000
}

const profiled = <A>(label: string, f: () => A): A => {
  if (PROFILE === undefined) return f()
  const session = new Session()
  session.connect()
  session.post("Profiler.enable")
  session.post("Profiler.start")
  try {
    return f()
  } finally {
    session.post("Profiler.stop", (err, res) => {
      if (err === null) writeFileSync(`${PROFILE}.${label}.cpuprofile`, JSON.stringify(res.profile))
    })
    session.disconnect()
  }
}

export const run = async (): Promise<void> => {
  const best = await loadSecp256k1Best()
  const timed = timeSecp(best.secp)
  const results: Array<string> = []
  const only = process.env["HTLC_DANCE_ONLY"]?.split(",")
  for (const encoding of ["schema", "fast", "none"] as const) {
    if (only !== undefined && !only.includes(encoding)) continue
    for (const mode of ["one", "window"] as const) {
      const d = openDriver(timed.secp)
      const parts = new Parts(timed.ms)
      Object.assign(d, { parts })
      d.encoding = encoding
      const f = mode === "one" ? oneAtATime : window
      f(d, Math.min(500, MEASURE_MS / 2)) // warm-up
      parts.reset()
      d.encodedBytes = 0
      timed.calls.clear()
      const s0 = timed.ms()
      const t0 = performance.now()
      const c0 = threadCpuMs()
      const n = profiled(`${mode}-${encoding}`, () => f(d, MEASURE_MS))
      const cpu = threadCpuMs() - c0
      const wall = performance.now() - t0
      const secpMs = timed.ms() - s0
      const per = (x: number) => ((x * 1000) / n).toFixed(0)
      const detail = [...parts.ms]
        .sort((x, y) => y[1].ms - x[1].ms)
        .map(([k, v]) => `${k} ${per(v.ms)} us (secp ${per(v.secp)}) [${(v.n / n).toFixed(1)}]`)
        .join(", ")
      results.push(
        `${mode === "one" ? "one at a time" : `${WINDOW} in flight`}, encoding ${encoding}: ${((n * 1000) / wall).toFixed(0)} ${mode === "one" ? "round trips" : "HTLCs"}/s wall, ` +
          `${((n * 1000) / cpu).toFixed(0)} per JS-thread CPU s (${per(cpu)} us CPU each), secp ${((100 * secpMs) / wall).toFixed(0)}% / rest ${((100 * (wall - secpMs)) / wall).toFixed(0)}% of wall` +
          (encoding === "none" ? "" : `, record ${(d.encodedBytes / Math.max(1, parts.ms.get("record encode")?.n ?? 1) / 1024).toFixed(1)} KiB avg`) +
          `\n    ${detail}` +
          `\n    secp calls each: ${[...timed.calls].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${(v / n).toFixed(2)}`).join(", ")}`
      )
      console.log(results[results.length - 1])
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run()
