/**
 * Monitor test fixtures: fixed channel parameters, the counterparty's per-commitment secrets
 * from a seed, a builder that emits a VALID update log step by step, and a fast-check
 * generator of such logs (random HTLC sets, commitment dances, preimages, shutdowns, closes).
 */
import fc from "fast-check"
import { sha256 } from "@noble/hashes/sha2.js"
import { Result, Schema } from "effect"
import { toHex } from "../../../src/protocol/bytes.ts"
import { ChannelParamsSchema, type ChannelParams } from "../../../src/protocol/channel/params.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { indexOfCommitment, perCommitmentSecret } from "../../../src/protocol/keys/shachain.ts"
import { replay } from "../../../src/protocol/monitor/apply.ts"
import {
  CompactSignatureSchema,
  CounterpartyCommitmentSchema,
  HolderCommitmentSchema,
  type CounterpartyCommitment,
  type HolderCommitment,
  type MonitorState
} from "../../../src/protocol/monitor/state.ts"
import type { MonitorUpdate, OpenedUpdate } from "../../../src/protocol/monitor/update.ts"

export const secp = nobleSecp256k1

const tagged = (tag: string): Uint8Array => sha256(new TextEncoder().encode(tag))
const pubHex = (tag: string): string => {
  const p = secp.publicKey(tagged(tag))
  if (p === undefined) throw new Error("bad test secret")
  return toHex(p)
}

const partyJson = (name: string, upfront?: string) => ({
  dustLimit: "546",
  maxHtlcValueInFlight: "500000000",
  channelReserve: "10000",
  htlcMinimum: "1000",
  toSelfDelay: 144,
  maxAcceptedHtlcs: 30,
  basepoints: {
    fundingPubkey: pubHex(`${name}/funding`),
    revocationBasepoint: pubHex(`${name}/revocation`),
    paymentBasepoint: pubHex(`${name}/payment`),
    delayedPaymentBasepoint: pubHex(`${name}/delayed`),
    htlcBasepoint: pubHex(`${name}/htlc`)
  },
  ...(upfront === undefined ? {} : { upfrontShutdownScript: upfront })
})

export const HOLDER_UPFRONT_SCRIPT = "0014" + "11".repeat(20)

export const makeParams = (options: { readonly holderUpfront?: string; readonly remoteUpfront?: string; readonly channel?: number } = {}): ChannelParams =>
  Schema.decodeUnknownSync(ChannelParamsSchema)({
    chainHash: "06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f",
    channelId: toHex(tagged(`channel/${options.channel ?? 0}`)),
    channelType: "anchors_zero_fee_htlc_tx",
    scidAlias: false,
    zeroConf: false,
    localIsFunder: true,
    fundingAmount: "1000000",
    fundingOutpoint: { txid: toHex(tagged(`funding/${options.channel ?? 0}`)), vout: 1 },
    keyId: toHex(tagged("key-id")),
    announce: false,
    local: partyJson("holder", options.holderUpfront),
    remote: partyJson("counterparty", options.remoteUpfront)
  })

export const COUNTERPARTY_SEED = tagged("counterparty/shachain-seed")
export const OTHER_SEED = tagged("someone-else/shachain-seed")

/** The counterparty's secret for its commitment `n` (BOLT 3 `generate_from_seed`). */
export const counterpartySecretFor = (n: bigint, seed: Uint8Array = COUNTERPARTY_SEED): Uint8Array =>
  perCommitmentSecret(seed, indexOfCommitment(n))

const pointCache = new Map<string, string>()
export const counterpartyPointHex = (n: bigint, seed: Uint8Array = COUNTERPARTY_SEED): string => {
  const key = `${toHex(seed)}/${n}`
  const cached = pointCache.get(key)
  if (cached !== undefined) return cached
  const p = secp.publicKey(counterpartySecretFor(n, seed))
  if (p === undefined) throw new Error("bad secret")
  pointCache.set(key, toHex(p))
  return toHex(p)
}

export interface HtlcSpec {
  readonly id: number
  readonly direction: "offered" | "received"
  readonly amountMsat: number
  /** The preimage's tag: the payment hash is sha256(preimageFor(tag)). */
  readonly preimageTag: number
  readonly cltvExpiry: number
}

export const preimageFor = (tag: number): Uint8Array => tagged(`preimage/${tag}`)

const htlcJson = (h: HtlcSpec) => ({
  id: String(h.id),
  direction: h.direction,
  amount: String(h.amountMsat),
  paymentHash: toHex(sha256(preimageFor(h.preimageTag))),
  cltvExpiry: h.cltvExpiry
})

const sigHex = (tag: string): string => toHex(concat64(tagged(`sig/${tag}`)))
const concat64 = (a: Uint8Array): Uint8Array => {
  const out = new Uint8Array(64)
  out.set(a, 0)
  out.set(sha256(a), 32)
  return out
}

export const holderCommitment = (n: bigint, htlcs: ReadonlyArray<HtlcSpec> = [], feerate = 253): HolderCommitment =>
  Schema.decodeUnknownSync(HolderCommitmentSchema)({
    commitmentNumber: String(n),
    feeratePerKw: feerate,
    toLocal: "600000000",
    toRemote: "400000000",
    htlcs: htlcs.map(htlcJson),
    counterpartySignature: sigHex(`holder/${n}`),
    counterpartyHtlcSignatures: htlcs.map((h) => sigHex(`holder/${n}/${h.id}`))
  })

export const counterpartyCommitment = (
  n: bigint,
  htlcs: ReadonlyArray<HtlcSpec> = [],
  options: { readonly seed?: Uint8Array; readonly feerate?: number } = {}
): CounterpartyCommitment =>
  Schema.decodeUnknownSync(CounterpartyCommitmentSchema)({
    commitmentNumber: String(n),
    perCommitmentPoint: counterpartyPointHex(n, options.seed),
    feeratePerKw: options.feerate ?? 253,
    toLocal: "400000000",
    toRemote: "600000000",
    htlcs: htlcs.map((h) => htlcJson({ ...h, direction: h.direction === "offered" ? "received" : "offered" })),
    txid: toHex(tagged(`counterparty-tx/${n}/${htlcs.length}`))
  })

export const signature = (tag: string) => Schema.decodeUnknownSync(CompactSignatureSchema)(sigHex(tag))

export const openedUpdate = (params: ChannelParams = makeParams()): OpenedUpdate => ({
  _tag: "Opened",
  updateId: 0n,
  params,
  fundingScript: Uint8Array.from([0x00, 0x20, ...tagged("funding-script")]),
  holderCommitment: holderCommitment(0n),
  counterpartyCommitment: counterpartyCommitment(0n)
})

/**
 * Emits a valid log: it tracks the commitment numbers and whether a counterparty commitment
 * awaits revocation, and gives each update the next id.
 */
export class LogBuilder {
  readonly log: Array<MonitorUpdate>
  private nextId = 1n
  holderNumber = 0n
  counterpartyNumber = 0n
  pendingCounterparty = false
  status: "Open" | "ForceClosed" | "Closed" = "Open"

  constructor(params: ChannelParams = makeParams()) {
    this.log = [openedUpdate(params)]
  }

  private push(u: MonitorUpdate): MonitorUpdate {
    this.log.push(u)
    this.nextId += 1n
    return u
  }

  get id(): bigint {
    return this.nextId
  }

  holder(htlcs: ReadonlyArray<HtlcSpec> = []): MonitorUpdate {
    this.holderNumber += 1n
    return this.push({ _tag: "HolderCommitment", updateId: this.nextId, commitment: holderCommitment(this.holderNumber, htlcs) })
  }

  signCounterparty(htlcs: ReadonlyArray<HtlcSpec> = []): MonitorUpdate {
    this.pendingCounterparty = true
    return this.push({
      _tag: "CounterpartyCommitment",
      updateId: this.nextId,
      commitment: counterpartyCommitment(this.counterpartyNumber + 1n, htlcs)
    })
  }

  revoke(): MonitorUpdate {
    const n = this.counterpartyNumber
    this.counterpartyNumber += 1n
    this.pendingCounterparty = false
    return this.push({ _tag: "CommitmentSecret", updateId: this.nextId, commitmentNumber: n, secret: counterpartySecretFor(n) })
  }

  preimage(tag: number): MonitorUpdate {
    return this.push({ _tag: "PaymentPreimage", updateId: this.nextId, preimage: preimageFor(tag) })
  }

  shutdown(side: "holder" | "counterparty", script: Uint8Array): MonitorUpdate {
    return this.push({ _tag: "ShutdownScript", updateId: this.nextId, side, script })
  }

  forceClose(reason = "test"): MonitorUpdate {
    this.status = "ForceClosed"
    return this.push({ _tag: "ForceClose", updateId: this.nextId, reason })
  }

  closed(): MonitorUpdate {
    this.status = "Closed"
    return this.push({ _tag: "ChannelClosed", updateId: this.nextId })
  }
}

const htlcSpecArb: fc.Arbitrary<HtlcSpec> = fc.record({
  id: fc.integer({ min: 0, max: 1000 }),
  direction: fc.constantFrom<"offered" | "received">("offered", "received"),
  amountMsat: fc.integer({ min: 1000, max: 50_000_000 }),
  preimageTag: fc.integer({ min: 0, max: 20 }),
  cltvExpiry: fc.integer({ min: 100, max: 800_000 })
})

type Action =
  | { readonly kind: "holder"; readonly htlcs: ReadonlyArray<HtlcSpec> }
  | { readonly kind: "sign"; readonly htlcs: ReadonlyArray<HtlcSpec> }
  | { readonly kind: "revoke" }
  | { readonly kind: "preimage"; readonly tag: number }
  | { readonly kind: "shutdown"; readonly side: "holder" | "counterparty"; readonly script: Uint8Array }
  | { readonly kind: "forceClose" }
  | { readonly kind: "closed" }

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.array(htlcSpecArb, { maxLength: 4 }).map((htlcs): Action => ({ kind: "holder", htlcs })) },
  { weight: 4, arbitrary: fc.array(htlcSpecArb, { maxLength: 4 }).map((htlcs): Action => ({ kind: "sign", htlcs })) },
  { weight: 4, arbitrary: fc.constant<Action>({ kind: "revoke" }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 20 }).map((tag): Action => ({ kind: "preimage", tag })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ side: fc.constantFrom<"holder" | "counterparty">("holder", "counterparty"), script: fc.uint8Array({ minLength: 22, maxLength: 34 }) })
      .map((r): Action => ({ kind: "shutdown", ...r }))
  },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: "forceClose" }) },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: "closed" }) }
)

/** Interprets actions into a valid log, skipping those the state does not admit. */
export const buildLog = (actions: ReadonlyArray<Action>): ReadonlyArray<MonitorUpdate> => {
  const b = new LogBuilder()
  for (const a of actions) {
    if (b.status === "Closed") break
    const open = b.status === "Open"
    switch (a.kind) {
      case "holder":
        if (open) b.holder(a.htlcs)
        break
      case "sign":
        if (open && !b.pendingCounterparty) b.signCounterparty(a.htlcs)
        break
      case "revoke":
        if (b.pendingCounterparty) b.revoke()
        break
      case "preimage":
        b.preimage(a.tag)
        break
      case "shutdown":
        if (open) b.shutdown(a.side, a.script)
        break
      case "forceClose":
        if (open && b.log.length >= 8) b.forceClose()
        break
      case "closed":
        if (b.log.length >= 12) b.closed()
        break
    }
  }
  return b.log
}

/** A random valid log (starting with `Opened`). */
export const arbitraryLog = (maxLength = 40): fc.Arbitrary<ReadonlyArray<MonitorUpdate>> =>
  fc.array(actionArb, { maxLength, size: "max" }).map(buildLog)

/** The monitor state a log built with `LogBuilder` (over `makeParams()`) replays to; throws on a refused log. */
export const stateOf = (build: (b: LogBuilder) => void): MonitorState => {
  const b = new LogBuilder(makeParams())
  build(b)
  const r = replay(secp, b.log)
  if (Result.isFailure(r)) throw new Error(r.failure._tag)
  return r.success
}
