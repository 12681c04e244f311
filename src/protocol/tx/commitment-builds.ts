/**
 * A bounded memo of built commitments (BOLT 3 "Commitment Transaction Construction"), with
 * what is derived from each: its txid, its HTLC transactions ("HTLC-Timeout and HTLC-Success
 * Transactions") and the BIP 143 digests that are signed or verified on them.
 *
 * Every commitment is built several times: the channel builds the peer's commitment after the
 * signer signed it (its txid goes to the monitor), the peer's channel builds the same
 * transaction to verify the signatures, and its signer rebuilds it again to validate it before
 * revoking; each build hashes every output script, the transaction (txid) and the signature
 * digests again. Through one memo, one node builds and hashes each commitment once.
 *
 * The memo is of a pure function: an entry keeps a copy of every input
 * `buildCommitmentTransaction` read for it (an HTLC by its four fields) and is served only to an
 * input equal to it field for field, so a hit returns what building again would; the HTLC
 * objects of the result are the caller's own (`H`'s extra fields carried through as the builder
 * does). Entries are found under a short numeric key, bits of the per-commitment point (which
 * tells one channel side's commitment from every other), feerate and HTLC count, not under a key made of every
 * input (~400 characters to make and hash per lookup, and a copy kept per `keys` object to spare
 * making it again); another input under the same short key (another state of the same
 * commitment) is a miss and replaces the entry. Only successes are kept; least recently used
 * entries go beyond `capacity`. Results of `build` (and of `htlcTransactions`) are instances of
 * a class of this module that carry their entry in a private field (the fields of a plain
 * result, own and enumerable, in the builder's order: equal to it field for field), so
 * `htlcTransactions`, `commitmentTxid` and the signing functions (`signing.ts`) find what was
 * already computed without a registration per result (a `WeakMap` entry costs about 1 us per
 * short-lived key); any other commitment object (built directly, or a modified copy, which is a
 * plain object) is simply computed from scratch. The signer still rebuilds what it signs from
 * the state it is given: it only skips work already done on equal inputs.
 */
import { Result } from "effect"
import { makeByteSlots, makeLru, type ByteSlots } from "../lru.ts"
import { txid as computeTxid, type Transaction, type Txid } from "./bitcoin/transaction.ts"
import {
  buildCommitmentTransaction,
  type CommitmentError,
  type CommitmentHtlc,
  type CommitmentOutput,
  type CommitmentParams,
  type CommitmentTransaction
} from "./commitment.ts"
import { buildHtlcTransactions, type HtlcTransaction, type HtlcTxKind } from "./htlc.ts"

/**
 * The digests of one input by sighash type, in two slots: a BOLT 3 transaction is signed under
 * at most two (SIGHASH_ALL, and the peer's SIGHASH_SINGLE|ANYONECANPAY on an anchors HTLC
 * transaction), and a `Map` per transaction (one per commitment and per HTLC transaction built)
 * costs more to make than the two lookups it answers. A third type is computed, not kept.
 */
interface Digests {
  typeA: number
  digestA: Uint8Array | undefined
  typeB: number
  digestB: Uint8Array | undefined
}
/** No digest kept yet (-1 is no sighash type). */
const noDigests = (): Digests => ({ typeA: -1, digestA: undefined, typeB: -1, digestB: undefined })

interface Entry {
  /** The inputs it was built from (`sameInputs`). */
  readonly inputs: Indexed
  /** As built for the first caller (its HTLC objects are that caller's). */
  readonly built: CommitmentTransaction<CommitmentHtlc>
  /** For each output of `built.outputs`: the index of its HTLC in the params' `htlcs`, or -1. */
  readonly outputHtlc: ReadonlyArray<number>
  /** Indexes in the params' `htlcs` of the trimmed HTLCs, in `built.trimmedHtlcs` order. */
  readonly trimmed: ReadonlyArray<number>
  /** Without HTLCs: `built.outputs` (none holds an HTLC), shared by every caller's view. */
  readonly outputsWithoutHtlcs: ReadonlyArray<CommitmentOutput<never>> | undefined
  /**
   * With HTLCs: for each output of `built.outputs` that holds no HTLC (`to_local`, `to_remote`,
   * anchors), its view, shared by every caller's (undefined at HTLC outputs, each caller's own).
   */
  readonly plainOutputs: ReadonlyArray<CommitmentOutput<never> | undefined>
  txid: Txid | undefined
  htlcTxs: ReadonlyArray<HtlcTransaction<CommitmentHtlc>> | undefined
  /** Digests of the funding input (the commitment signatures). */
  readonly digests: Digests
  /** Digests of each HTLC transaction's input, in `htlcTxs` order. */
  readonly htlcDigests: Array<Digests>
}

/**
 * A commitment handed out by `build`: the fields of `CommitmentTransaction` (own, enumerable, in
 * the order `buildCommitmentTransaction` writes them) with the caller's params and HTLC objects,
 * and its memo entry in a private field (`entryOf`), where its txid, HTLC transactions and
 * digests are kept.
 */
class MemoCommitment<H extends CommitmentHtlc> implements CommitmentTransaction<H> {
  readonly params: CommitmentParams<H>
  readonly tx: Transaction
  readonly outputs: ReadonlyArray<CommitmentOutput<H>>
  readonly htlcOutputs: ReadonlyArray<CommitmentOutput<H> & { readonly htlc: H }>
  readonly trimmedHtlcs: ReadonlyArray<H>
  readonly baseFee: CommitmentTransaction<H>["baseFee"]
  readonly fee: CommitmentTransaction<H>["fee"]
  readonly toLocalAmount: CommitmentTransaction<H>["toLocalAmount"]
  readonly toRemoteAmount: CommitmentTransaction<H>["toRemoteAmount"]
  readonly hasToLocal: boolean
  readonly hasToRemote: boolean
  readonly #entry: Entry
  constructor(
    entry: Entry,
    params: CommitmentParams<H>,
    outputs: ReadonlyArray<CommitmentOutput<H>>,
    htlcOutputs: ReadonlyArray<CommitmentOutput<H> & { readonly htlc: H }>,
    trimmedHtlcs: ReadonlyArray<H>
  ) {
    const built = entry.built
    this.params = params
    this.tx = built.tx
    this.outputs = outputs
    this.htlcOutputs = htlcOutputs
    this.trimmedHtlcs = trimmedHtlcs
    this.baseFee = built.baseFee
    this.fee = built.fee
    this.toLocalAmount = built.toLocalAmount
    this.toRemoteAmount = built.toRemoteAmount
    this.hasToLocal = built.hasToLocal
    this.hasToRemote = built.hasToRemote
    this.#entry = entry
  }
  /** The memo entry of a commitment `build` handed out; undefined for any other object. */
  static entryOf(commitment: object): Entry | undefined {
    return #entry in commitment ? commitment.#entry : undefined
  }
}

/**
 * An HTLC transaction handed out by `htlcTransactions`: the fields of `HtlcTransaction` (own,
 * enumerable, in `buildHtlcTransactions`' order) with the caller's HTLC object, and the digests
 * of its input kept in the memo entry, in a private field (`digestsOf`).
 */
class MemoHtlcTransaction<H extends CommitmentHtlc> implements HtlcTransaction<H> {
  readonly kind: HtlcTxKind
  readonly htlc: H
  readonly tx: Transaction
  readonly commitmentOutputIndex: number
  readonly inputAmount: HtlcTransaction<H>["inputAmount"]
  readonly inputWitnessScript: Uint8Array
  readonly outputWitnessScript: Uint8Array
  readonly remoteSighash: number
  readonly #digests: Digests
  constructor(core: HtlcTransaction<CommitmentHtlc>, htlc: H, digests: Digests) {
    this.kind = core.kind
    this.htlc = htlc
    this.tx = core.tx
    this.commitmentOutputIndex = core.commitmentOutputIndex
    this.inputAmount = core.inputAmount
    this.inputWitnessScript = core.inputWitnessScript
    this.outputWitnessScript = core.outputWitnessScript
    this.remoteSighash = core.remoteSighash
    this.#digests = digests
  }
  /** The digests of an HTLC transaction `htlcTransactions` handed out; undefined for any other object. */
  static digestsOf(htlcTx: object): Digests | undefined {
    return #digests in htlcTx ? htlcTx.#digests : undefined
  }
}

const KEY_LENGTH = 33

/**
 * Whether every byte field `writeFields` copies has its length (else the params are built
 * without the memo, and the builder judges them). Reads the HTLC keys only when there are HTLCs.
 */
const hasByteLengths = <H extends CommitmentHtlc>(p: CommitmentParams<H>): boolean => {
  const k = p.keys
  if (
    p.fundingOutpoint.txid.length !== 32 ||
    p.localFundingPubkey.length !== KEY_LENGTH ||
    p.remoteFundingPubkey.length !== KEY_LENGTH ||
    k.perCommitmentPoint.length !== KEY_LENGTH ||
    k.revocationPubkey.length !== KEY_LENGTH ||
    k.localDelayedPubkey.length !== KEY_LENGTH ||
    (p.htlcs.length > 0 && (k.localHtlcPubkey.length !== KEY_LENGTH || k.remoteHtlcPubkey.length !== KEY_LENGTH)) ||
    k.remotePaymentPubkey.length !== KEY_LENGTH
  )
    return false
  const htlcs = p.htlcs
  for (let i = 0; i < htlcs.length; i++) if (htlcs[i]?.paymentHash.length !== 32) return false
  return true
}

/**
 * Where `writeFields` puts each field in an entry's slot: the funding
 * txid, the two funding pubkeys, four commitment keys, then with HTLCs the two HTLC keys and
 * each HTLC's payment hash (`HASHES_AT` on).
 */
const TXID_AT = 0
const LOCAL_FUNDING_AT = 32
const REMOTE_FUNDING_AT = LOCAL_FUNDING_AT + KEY_LENGTH
const POINT_AT = REMOTE_FUNDING_AT + KEY_LENGTH
const REVOCATION_AT = POINT_AT + KEY_LENGTH
const DELAYED_AT = REVOCATION_AT + KEY_LENGTH
const REMOTE_PAYMENT_AT = DELAYED_AT + KEY_LENGTH
/** The length without HTLCs. */
const WITHOUT_HTLCS = REMOTE_PAYMENT_AT + KEY_LENGTH
const LOCAL_HTLC_AT = WITHOUT_HTLCS
const REMOTE_HTLC_AT = LOCAL_HTLC_AT + KEY_LENGTH
const HASHES_AT = REMOTE_HTLC_AT + KEY_LENGTH

/** The length of the byte fields of a commitment with `htlcs` HTLCs. */
const byteFieldsLength = (htlcs: number): number => (htlcs === 0 ? WITHOUT_HTLCS : HASHES_AT + 32 * htlcs)

/**
 * The class of slots an entry with `htlcs` HTLCs takes its slot from: 0 without HTLCs, else the
 * class c of up to 2^(c-1) HTLCs (1, 2, 4, 8, ...), so a slot wastes less than half its width.
 */
const slotClassOf = (htlcs: number): number => (htlcs === 0 ? 0 : 33 - Math.clz32(htlcs - 1))

/**
 * Where a memo keeps its entries' byte fields: one `ByteSlots` per class (`slotClassOf`), made
 * when first needed, its width the fields of the most HTLCs of the class. A slot, not an array
 * per entry: a miss allocates nothing for its copies (an array of a few hundred bytes is
 * allocated outside V8's heap, ~0.5-0.8 us each), and an entry's bytes cost the GC nothing to
 * mark (a simulation keeps one entry per channel).
 */
class FieldSlots {
  readonly #classes: Array<ByteSlots | undefined> = []
  /** The slots of entries with `htlcs` HTLCs. */
  of(htlcs: number): ByteSlots {
    const c = slotClassOf(htlcs)
    return (this.#classes[c] ??= makeByteSlots(byteFieldsLength(c === 0 ? 0 : 2 ** (c - 1))))
  }
  clear(): void {
    this.#classes.length = 0
  }
}

/**
 * Copies each byte field the builder reads (of checked lengths, `hasByteLengths`, so each is at
 * a fixed place) into `slot`: the funding txid, the two funding pubkeys, the six commitment keys
 * and each HTLC's payment hash. Without HTLCs the builder never reads the two HTLC keys (the key
 * derivation may not have computed them: `commitment-keys.ts` derives them on first read): they
 * are left out, the HTLC count (`sameInputs` compares it) telling the two layouts apart.
 */
const writeFields = <H extends CommitmentHtlc>(slots: ByteSlots, slot: number, p: CommitmentParams<H>): void => {
  const k = p.keys
  const htlcs = p.htlcs
  slots.write(slot, TXID_AT, p.fundingOutpoint.txid)
  slots.write(slot, LOCAL_FUNDING_AT, p.localFundingPubkey)
  slots.write(slot, REMOTE_FUNDING_AT, p.remoteFundingPubkey)
  slots.write(slot, POINT_AT, k.perCommitmentPoint)
  slots.write(slot, REVOCATION_AT, k.revocationPubkey)
  slots.write(slot, DELAYED_AT, k.localDelayedPubkey)
  slots.write(slot, REMOTE_PAYMENT_AT, k.remotePaymentPubkey)
  if (htlcs.length === 0) return
  slots.write(slot, LOCAL_HTLC_AT, k.localHtlcPubkey)
  slots.write(slot, REMOTE_HTLC_AT, k.remoteHtlcPubkey)
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h !== undefined) slots.write(slot, HASHES_AT + 32 * i, h.paymentHash)
  }
}

/**
 * Whether the byte fields of `p` (of checked lengths, `hasByteLengths`; as many HTLCs as the
 * entry's, which `sameInputs` compares first) are those `writeFields` copied into `slot`, the
 * point first (what tells commitments apart). The HTLC keys are compared only when there are HTLCs.
 */
const sameBytes = <H extends CommitmentHtlc>(slots: ByteSlots, slot: number, p: CommitmentParams<H>): boolean => {
  const k = p.keys
  const htlcs = p.htlcs
  if (
    !slots.has(slot, POINT_AT, k.perCommitmentPoint) ||
    !slots.has(slot, TXID_AT, p.fundingOutpoint.txid) ||
    !slots.has(slot, LOCAL_FUNDING_AT, p.localFundingPubkey) ||
    !slots.has(slot, REMOTE_FUNDING_AT, p.remoteFundingPubkey) ||
    !slots.has(slot, REVOCATION_AT, k.revocationPubkey) ||
    !slots.has(slot, DELAYED_AT, k.localDelayedPubkey) ||
    !slots.has(slot, REMOTE_PAYMENT_AT, k.remotePaymentPubkey) ||
    (htlcs.length > 0 && (!slots.has(slot, LOCAL_HTLC_AT, k.localHtlcPubkey) || !slots.has(slot, REMOTE_HTLC_AT, k.remoteHtlcPubkey)))
  )
    return false
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h === undefined || !slots.has(slot, HASHES_AT + 32 * i, h.paymentHash)) return false
  }
  return true
}

/**
 * The memo key of `p`, a small integer (`numberKeyOf`: no string made or hashed, no number
 * allocated per lookup): 30 bits of the per-commitment point's x-coordinate, which tell one
 * commitment of one channel side from the others (its number is not in the key), XORed with the
 * feerate's low 10 bits (bits 10-19) and the HTLC count's (bits 0-9): under one point, an
 * `update_fee` or an HTLC added while a commitment is built still gives another key. Two inputs
 * under one key are told apart by `sameInputs` (the second replaces the first): such a clash
 * only costs a rebuild.
 */
const shortKeyOf = <H extends CommitmentHtlc>(p: CommitmentParams<H>): number => {
  const point = p.keys.perCommitmentPoint
  const pointBits = (((point[1] ?? 0) & 0x3f) << 24) | ((point[2] ?? 0) << 16) | ((point[3] ?? 0) << 8) | (point[4] ?? 0)
  return pointBits ^ ((p.feeratePerKw & 0x3ff) << 10) ^ (p.htlcs.length & 0x3ff)
}

/**
 * The inputs an entry was built from, kept to serve only equal inputs (`sameInputs`): a copy of
 * the byte fields and every other input, as read then. An input is served only if each of these
 * is equal (the channel type by identity).
 */
interface Indexed {
  /** The slots and the slot holding the byte fields (`writeFields`). */
  readonly slots: ByteSlots
  readonly slot: number
  readonly channelType: object
  readonly vout: number
  /** fundingAmount, commitmentNumber, obscuringFactor, toLocal, toRemote, dustLimit, then each HTLC's amount. */
  readonly bigints: ReadonlyArray<bigint>
  /** localIsFunder (0/1), feeratePerKw, toSelfDelay, then each HTLC's direction (0 offered, 1 received) and cltvExpiry. */
  readonly numbers: ReadonlyArray<number>
}

const bigintsOf = <H extends CommitmentHtlc>(p: CommitmentParams<H>): Array<bigint> => {
  const out: Array<bigint> = [p.fundingAmount, p.commitmentNumber, p.obscuringFactor, p.toLocal, p.toRemote, p.dustLimit]
  const htlcs = p.htlcs
  for (let i = 0; i < htlcs.length; i++) out.push(htlcs[i]?.amount ?? 0n)
  return out
}
const numbersOf = <H extends CommitmentHtlc>(p: CommitmentParams<H>): Array<number> => {
  const out: Array<number> = [p.localIsFunder ? 1 : 0, p.feeratePerKw, p.toSelfDelay]
  const htlcs = p.htlcs
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h !== undefined) out.push(h.direction === "offered" ? 0 : 1, h.cltvExpiry)
  }
  return out
}

/** The inputs of `p` as an entry keeps them, its byte fields written into a slot taken from `fieldSlots`. */
const indexedOf = <H extends CommitmentHtlc>(fieldSlots: FieldSlots, p: CommitmentParams<H>): Indexed => {
  const slots = fieldSlots.of(p.htlcs.length)
  const slot = slots.take()
  writeFields(slots, slot, p)
  return { slots, slot, channelType: p.channelType, vout: p.fundingOutpoint.vout, bigints: bigintsOf(p), numbers: numbersOf(p) }
}

/** Whether `p` (its byte fields of checked lengths) is the input `i` was made of, field for field. */
const sameInputs = <H extends CommitmentHtlc>(i: Indexed, p: CommitmentParams<H>): boolean => {
  const b = i.bigints
  const n = i.numbers
  const htlcs = p.htlcs
  if (
    i.channelType !== p.channelType ||
    i.vout !== p.fundingOutpoint.vout ||
    b.length !== 6 + htlcs.length ||
    b[0] !== p.fundingAmount ||
    b[1] !== p.commitmentNumber ||
    b[2] !== p.obscuringFactor ||
    b[3] !== p.toLocal ||
    b[4] !== p.toRemote ||
    b[5] !== p.dustLimit ||
    n[0] !== (p.localIsFunder ? 1 : 0) ||
    n[1] !== p.feeratePerKw ||
    n[2] !== p.toSelfDelay
  )
    return false
  for (let k = 0; k < htlcs.length; k++) {
    const h = htlcs[k]
    if (h === undefined || b[6 + k] !== h.amount || n[3 + 2 * k] !== (h.direction === "offered" ? 0 : 1) || n[4 + 2 * k] !== h.cltvExpiry) return false
  }
  return sameBytes(i.slots, i.slot, p)
}

/** The empty HTLC lists of every commitment without HTLCs handed out from the memo (read-only, as every list handed out). */
const NO_HTLCS: ReadonlyArray<never> = []

/**
 * The entry's commitment with the caller's params and HTLC objects. Without HTLCs (half the
 * commitments of an HTLC round trip) the output lists hold no HTLC object: the entry's own lists
 * are the caller's too (frozen values, as every list handed out is read-only). With HTLCs the
 * caller gets its own lists and HTLC outputs, and the entry's views of the other outputs.
 */
const viewFor = <H extends CommitmentHtlc>(entry: Entry, params: CommitmentParams<H>): CommitmentTransaction<H> => {
  const { built } = entry
  if (entry.outputsWithoutHtlcs !== undefined && params.htlcs.length === 0) return new MemoCommitment<H>(entry, params, entry.outputsWithoutHtlcs, NO_HTLCS, NO_HTLCS)
  const outputs: Array<CommitmentOutput<H>> = []
  const htlcOutputs: Array<CommitmentOutput<H> & { readonly htlc: H }> = []
  const builtOutputs = built.outputs
  for (let i = 0; i < builtOutputs.length; i++) {
    const o = builtOutputs[i]
    if (o === undefined) continue
    const htlc = params.htlcs[entry.outputHtlc[i] ?? -1]
    // Written out (no spread of a common part): one object per HTLC output; the others shared.
    if (htlc === undefined) outputs.push(entry.plainOutputs[i] ?? plainOutputOf(o))
    else {
      const withHtlc = { index: o.index, kind: o.kind, amount: o.amount, scriptPubKey: o.scriptPubKey, witnessScript: o.witnessScript, htlc }
      outputs.push(withHtlc)
      htlcOutputs.push(withHtlc)
    }
  }
  const trimmedHtlcs: Array<H> = []
  const trimmed = entry.trimmed
  for (let k = 0; k < trimmed.length; k++) {
    const h = params.htlcs[trimmed[k] ?? -1]
    if (h !== undefined) trimmedHtlcs.push(h)
  }
  return new MemoCommitment(entry, params, outputs, htlcOutputs, trimmedHtlcs)
}

/** Up to this many HTLCs `entryOf` finds each by a scan of the list; beyond, through a map of their positions (a scan per output would be quadratic). */
const SCAN_MAX_HTLCS = 8

/** An output's view without HTLC: its fields as the builder writes them (for an output of a commitment not built here). */
const plainOutputOf = <H extends CommitmentHtlc>(o: CommitmentOutput<H>): CommitmentOutput<never> => ({
  index: o.index,
  kind: o.kind,
  amount: o.amount,
  scriptPubKey: o.scriptPubKey,
  witnessScript: o.witnessScript,
  htlc: undefined
})

/** Whether an output holds no HTLC: then it is the same for every caller (a type guard: the builder's own object serves as every caller's). */
const isPlainOutput = <H extends CommitmentHtlc>(o: CommitmentOutput<H>): o is CommitmentOutput<never> => o.htlc === undefined

const entryOf = <H extends CommitmentHtlc>(fieldSlots: FieldSlots, params: CommitmentParams<H>, built: CommitmentTransaction<H>): Entry => {
  const htlcs = params.htlcs
  const builtOutputs = built.outputs
  const outputHtlc: Array<number> = []
  const trimmed: Array<number> = []
  const plainOutputs: Array<CommitmentOutput<never> | undefined> = []
  let outputsWithoutHtlcs: Array<CommitmentOutput<never>> | undefined
  // The outputs without HTLC are the builder's own objects (read-only, as every output handed
  // out), shared with every later caller rather than copied: one object fewer per output built.
  if (htlcs.length === 0) {
    // No HTLC: no output or trimmed entry points to one (and no map of their positions is made).
    outputsWithoutHtlcs = []
    for (let i = 0; i < builtOutputs.length; i++) {
      const o = builtOutputs[i]
      if (o === undefined) continue
      outputHtlc.push(-1)
      outputsWithoutHtlcs.push(isPlainOutput(o) ? o : plainOutputOf(o))
    }
  } else {
    // A few HTLCs (most commitments): each found by a scan of the list, no map made. From the
    // end, as the map answers beyond (an object listed twice is found at its last place).
    let position: Map<CommitmentHtlc, number> | undefined
    if (htlcs.length > SCAN_MAX_HTLCS) {
      position = new Map()
      for (let i = 0; i < htlcs.length; i++) {
        const h = htlcs[i]
        if (h !== undefined) position.set(h, i)
      }
    }
    const indexOf = (h: H): number => (position === undefined ? htlcs.lastIndexOf(h) : (position.get(h) ?? -1))
    for (let i = 0; i < builtOutputs.length; i++) {
      const o = builtOutputs[i]
      outputHtlc.push(o?.htlc === undefined ? -1 : indexOf(o.htlc))
      plainOutputs.push(o !== undefined && isPlainOutput(o) ? o : undefined)
    }
    const trimmedHtlcs = built.trimmedHtlcs
    for (let i = 0; i < trimmedHtlcs.length; i++) {
      const h = trimmedHtlcs[i]
      if (h !== undefined) trimmed.push(indexOf(h))
    }
  }
  return {
    inputs: indexedOf(fieldSlots, params),
    built,
    outputHtlc,
    trimmed,
    outputsWithoutHtlcs,
    plainOutputs,
    txid: undefined,
    htlcTxs: undefined,
    digests: noDigests(),
    htlcDigests: []
  }
}

export interface CommitmentBuilds {
  readonly capacity: number
  /** `Lru.resize`: a simulation running many nodes in one process sizes the shared memo for its run. */
  readonly resize: (capacity: number) => void
  /** `buildCommitmentTransaction(params)`, from the memo when it holds an equal build. */
  readonly build: <H extends CommitmentHtlc>(params: CommitmentParams<H>) => Result.Result<CommitmentTransaction<H>, CommitmentError>
  readonly size: () => number
  readonly stats: () => { readonly hits: number; readonly misses: number }
  readonly clear: () => void
}

/** A memo of at most `capacity` (>= 1) builds. Throws RangeError otherwise (a configuration bug). */
export const makeCommitmentBuilds = (capacity: number): CommitmentBuilds => {
  const fieldSlots = new FieldSlots()
  // An entry's slot is released when it leaves the memo (a commitment handed out keeps its entry for its txid and digests, never reading the slot).
  const memo = makeLru<Entry, number>(capacity, "commitment builds", (dropped) => dropped.inputs.slots.release(dropped.inputs.slot))
  // `capacity` a data property kept in step with `resize` (an accessor would make this a dictionary-mode object).
  const self: Omit<CommitmentBuilds, "capacity"> & { capacity: number } = {
    capacity: memo.capacity,
    resize: (n) => {
      memo.resize(n)
      self.capacity = memo.capacity
    },
    build: <H extends CommitmentHtlc>(params: CommitmentParams<H>): Result.Result<CommitmentTransaction<H>, CommitmentError> => {
      if (!hasByteLengths(params)) return buildCommitmentTransaction(params)
      const key = shortKeyOf(params)
      const held = memo.get(key)
      if (held !== undefined && sameInputs(held.inputs, params)) return Result.succeed(viewFor(held, params))
      // Found under a number shared with other inputs: counted as a miss.
      if (held !== undefined) memo.mismatch()
      const built = buildCommitmentTransaction(params)
      if (Result.isFailure(built)) return built
      const b = built.success
      const entry = entryOf(fieldSlots, params, b)
      memo.set(key, entry)
      return Result.succeed(new MemoCommitment(entry, params, b.outputs, b.htlcOutputs, b.trimmedHtlcs))
    },
    size: memo.size,
    stats: memo.stats,
    clear: () => {
      memo.clear()
      fieldSlots.clear()
    }
  }
  return self
}

/** Entries of the shared memo: the commitments in flight of a few dozen channels. */
export const SHARED_COMMITMENT_BUILDS_CAPACITY = 64

/** The process-wide memo the channel's builders (`view.ts`) and the in-process signer use. */
export const sharedCommitmentBuilds: CommitmentBuilds = makeCommitmentBuilds(SHARED_COMMITMENT_BUILDS_CAPACITY)

/** The commitment's txid (internal byte order), computed once per memo entry. */
export const commitmentTxid = <H extends CommitmentHtlc>(commitment: CommitmentTransaction<H>): Txid => {
  const entry = MemoCommitment.entryOf(commitment)
  if (entry === undefined) return computeTxid(commitment.tx)
  if (entry.txid === undefined) entry.txid = computeTxid(entry.built.tx)
  return entry.txid
}

/**
 * `buildHtlcTransactions(commitment)`: every HTLC transaction in commitment output order,
 * built once per memo entry (the `htlc` of each is the caller's).
 */
export const htlcTransactions = <H extends CommitmentHtlc>(commitment: CommitmentTransaction<H>): ReadonlyArray<HtlcTransaction<H>> => {
  const entry = MemoCommitment.entryOf(commitment)
  if (entry === undefined) return buildHtlcTransactions(commitment)
  if (entry.htlcTxs === undefined) {
    if (entry.txid === undefined) entry.txid = computeTxid(entry.built.tx)
    entry.htlcTxs = buildHtlcTransactions(entry.built, entry.txid)
  }
  const result: Array<HtlcTransaction<H>> = []
  entry.htlcTxs.forEach((core, i) => {
    const output = commitment.htlcOutputs[i]
    if (output === undefined) return
    let digests = entry.htlcDigests[i]
    if (digests === undefined) {
      digests = noDigests()
      entry.htlcDigests[i] = digests
    }
    result.push(new MemoHtlcTransaction(core, output.htlc, digests))
  })
  return result
}

const cached = (digests: Digests | undefined, sighashType: number, compute: () => Uint8Array): Uint8Array => {
  if (digests === undefined) return compute()
  if (digests.typeA === sighashType && digests.digestA !== undefined) return digests.digestA
  if (digests.typeB === sighashType && digests.digestB !== undefined) return digests.digestB
  const digest = compute()
  if (digests.digestA === undefined) {
    digests.typeA = sighashType
    digests.digestA = digest
  } else if (digests.digestB === undefined) {
    digests.typeB = sighashType
    digests.digestB = digest
  }
  return digest
}

/** The digest of a commitment's funding input under `sighashType`, computed once per memo entry. */
export const cachedCommitmentDigest = <H extends CommitmentHtlc>(
  commitment: CommitmentTransaction<H>,
  sighashType: number,
  compute: () => Uint8Array
): Uint8Array => cached(MemoCommitment.entryOf(commitment)?.digests, sighashType, compute)

/** The digest of an HTLC transaction's input under `sighashType`, computed once per memo entry. */
export const cachedHtlcDigest = <H extends CommitmentHtlc>(htlcTx: HtlcTransaction<H>, sighashType: number, compute: () => Uint8Array): Uint8Array =>
  cached(MemoHtlcTransaction.digestsOf(htlcTx), sighashType, compute)
