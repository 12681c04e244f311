/**
 * BOLT 3 witness scripts ("Funding Transaction Output", "Commitment Transaction Outputs",
 * "HTLC-Timeout and HTLC-Success Transactions"). Each function returns the witness script;
 * wrap it with `p2wshScript` for the output. `anchors` selects the option_anchors variant
 * (the extra `1 OP_CHECKSEQUENCEVERIFY OP_DROP` on HTLC outputs).
 */
import { compareBytes } from "../bytes.ts"
import type { PublicKey } from "../keys/keys.ts"
import { ripemd, hash160 } from "./bitcoin/hash.ts"
import { compileScript, num, OP, type ScriptChunk } from "./bitcoin/script.ts"

/** The funding keys in BOLT 3 order: lexicographically lesser compressed key first. */
export const sortFundingKeys = (a: PublicKey, b: PublicKey): readonly [PublicKey, PublicKey] =>
  compareBytes(a, b) <= 0 ? [a, b] : [b, a]

/** Bytes of `fundingScript` for two 33-byte keys. */
export const FUNDING_SCRIPT_SIZE = 71

/** `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG` with the keys sorted. */
export const fundingScript = (a: PublicKey, b: PublicKey): Uint8Array => {
  if (a.length !== 33 || b.length !== 33) return fundingScriptChunks(a, b)
  // Written byte by byte (the same bytes as the chunks): the funding output and witness.
  const out = new Uint8Array(FUNDING_SCRIPT_SIZE)
  writeFundingScript(out, a, b)
  return out
}
/**
 * `fundingScript` of two 33-byte keys written over `out[0..71)`, for a caller that only hashes it
 * (the commitment digest's scriptCode, written into a reused buffer: a typed array of more than
 * 64 bytes is kept off V8's heap and costs about ten times a small one to make).
 */
export const writeFundingScript = (out: Uint8Array, a: PublicKey, b: PublicKey): void => {
  const first = compareBytes(a, b) <= 0
  out[0] = OP.OP_2
  out[1] = 33
  out.set(first ? a : b, 2)
  out[35] = 33
  out.set(first ? b : a, 36)
  out[69] = OP.OP_2
  out[70] = OP.OP_CHECKMULTISIG
}
/** `fundingScript` compiled from its chunks: the reference for its byte layout, and the form for keys of another length. */
export const fundingScriptChunks = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const [k1, k2] = compareBytes(a, b) <= 0 ? [a, b] : [b, a]
  return compileScript([OP.OP_2, k1, k2, OP.OP_2, OP.OP_CHECKMULTISIG])
}

/**
 * Where the witness scripts of one commitment's outputs are written: one buffer for all of them,
 * each script a view of its part. A typed array of more than 64 bytes has its bytes outside V8's
 * heap, which costs about 0.4 us to make and release (a view of a shared buffer ~0.06 us), and
 * every HTLC script (~140 bytes) and `to_local` (~79) is one: a commitment with 50 HTLCs made 51
 * such arrays, one now. The buffer lives as long as any of its scripts, as the separate arrays
 * would (a build keeps all its outputs). Sized by the builder as an upper bound
 * (`TO_LOCAL_SCRIPT_MAX`, `HTLC_SCRIPT_MAX`); past its end a script gets an array of its own.
 */
export class ScriptArena {
  readonly #capacity: number
  #buffer: ArrayBuffer | undefined
  #at: number
  constructor(capacity: number) {
    this.#capacity = capacity
    this.#buffer = undefined
    this.#at = 0
  }
  /** `n` zero bytes for one script: the next part of the buffer (made at the first take), or a fresh array once it is full. */
  take(n: number): Uint8Array {
    const end = this.#at + n
    if (end > this.#capacity) return new Uint8Array(n)
    this.#buffer ??= new ArrayBuffer(this.#capacity)
    const part = new Uint8Array(this.#buffer, this.#at, n)
    this.#at = end
    return part
  }
}

/** The most bytes `toLocalScript` writes for a delay of at most 0xffff (every `to_self_delay`): 74 + a push of a 3-byte number (4). */
export const TO_LOCAL_SCRIPT_MAX = 78
/** The most bytes an HTLC script writes (`receivedHtlcScript` with anchors and a 5-byte `cltv_expiry` push): 135 + 6 + 3. */
export const HTLC_SCRIPT_MAX = 144

/**
 * `to_local` (and the output of HTLC-success/timeout transactions):
 * OP_IF <revocationpubkey> OP_ELSE to_self_delay OP_CSV OP_DROP <local_delayedpubkey> OP_ENDIF OP_CHECKSIG
 */
export const toLocalScript = (revocationPubkey: PublicKey, toSelfDelay: number, localDelayedPubkey: PublicKey, into?: ScriptArena): Uint8Array => {
  if (revocationPubkey.length !== 33 || localDelayedPubkey.length !== 33 || !isSmallNum(toSelfDelay)) return toLocalScriptChunks(revocationPubkey, toSelfDelay, localDelayedPubkey)
  // Written byte by byte (the same bytes as the chunks): this runs for every commitment and HTLC transaction.
  const size = 74 + numSize(toSelfDelay)
  const out = into === undefined ? new Uint8Array(size) : into.take(size)
  out[0] = OP.OP_IF
  let at = pushKey(out, 1, revocationPubkey)
  out[at++] = OP.OP_ELSE
  at = writeNum(out, at, toSelfDelay)
  out[at++] = OP.OP_CHECKSEQUENCEVERIFY
  out[at++] = OP.OP_DROP
  at = pushKey(out, at, localDelayedPubkey)
  out[at++] = OP.OP_ENDIF
  out[at] = OP.OP_CHECKSIG
  return out
}

/** `toLocalScript` from chunks: the reference form, for inputs the byte layout does not cover. */
export const toLocalScriptChunks = (revocationPubkey: Uint8Array, toSelfDelay: number, localDelayedPubkey: Uint8Array): Uint8Array =>
  compileScript([
    OP.OP_IF,
    revocationPubkey,
    OP.OP_ELSE,
    num(toSelfDelay),
    OP.OP_CHECKSEQUENCEVERIFY,
    OP.OP_DROP,
    localDelayedPubkey,
    OP.OP_ENDIF,
    OP.OP_CHECKSIG
  ])

/** The second-stage HTLC output has exactly the `to_local` script. */
export const htlcOutputScript = toLocalScript

/** option_anchors `to_remote`: <remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY. */
export const toRemoteAnchorsScript = (remotePubkey: PublicKey): Uint8Array =>
  compileScript([remotePubkey, OP.OP_CHECKSIGVERIFY, OP.OP_1, OP.OP_CHECKSEQUENCEVERIFY])

/** Anchor: <funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CSV OP_ENDIF. */
export const anchorScript = (fundingPubkey: PublicKey): Uint8Array =>
  compileScript([fundingPubkey, OP.OP_CHECKSIG, OP.OP_IFDUP, OP.OP_NOTIF, OP.OP_16, OP.OP_CHECKSEQUENCEVERIFY, OP.OP_ENDIF])

export interface HtlcScriptKeys {
  readonly revocationPubkey: PublicKey
  readonly localHtlcPubkey: PublicKey
  readonly remoteHtlcPubkey: PublicKey
}

/**
 * HASH160 of a revocation key, the last one remembered (with a copy of its key, compared on each
 * use): every HTLC output of a commitment has the same revocation key, and they are written one
 * after the other, so a commitment with n HTLCs hashes it once rather than n times (one entry: no
 * map entry made per commitment). The copy goes into one reused buffer: a new key costs no array
 * or record beyond its hash.
 */
const revocation: { key: Uint8Array; length: number; hash: Uint8Array } = { key: new Uint8Array(33), length: -1, hash: new Uint8Array(20) }
const revocationHash160 = (key: Uint8Array): Uint8Array => {
  if (revocation.length === key.length) {
    const held = revocation.key
    let i = 0
    while (i < key.length && held[i] === key[i]) i++
    if (i === key.length) return revocation.hash
  }
  revocation.hash = hash160(key)
  if (revocation.key.length < key.length) revocation.key = new Uint8Array(key.length)
  revocation.key.set(key)
  revocation.length = key.length
  return revocation.hash
}

/**
 * What the offered and received HTLC scripts share: the revocation key spends at once;
 * otherwise the remote HTLC signature is checked later and the size of the next item (a 32-byte
 * preimage or not) picks the branch.
 */
const htlcScriptHead = (keys: HtlcScriptKeys): ReadonlyArray<ScriptChunk> => [
  OP.OP_DUP,
  OP.OP_HASH160,
  revocationHash160(keys.revocationPubkey),
  OP.OP_EQUAL,
  OP.OP_IF,
  OP.OP_CHECKSIG,
  OP.OP_ELSE,
  keys.remoteHtlcPubkey,
  OP.OP_SWAP,
  OP.OP_SIZE,
  num(32),
  OP.OP_EQUAL
]

/** The closing of both HTLC scripts; option_anchors adds `1 OP_CHECKSEQUENCEVERIFY OP_DROP` (no spend in the same block). */
const htlcScriptTail = (anchors: boolean): ReadonlyArray<ScriptChunk> => [
  ...(anchors ? [OP.OP_1, OP.OP_CHECKSEQUENCEVERIFY, OP.OP_DROP] : []),
  OP.OP_ENDIF
]

/** Offered HTLC output script (HTLC offered by the commitment owner): 2-of-2 timeout path, or the preimage. */
export const offeredHtlcScript = (keys: HtlcScriptKeys, paymentHash: Uint8Array, anchors: boolean, into?: ScriptArena): Uint8Array => {
  if (!htlcKeysFit(keys)) return offeredHtlcScriptChunks(keys, paymentHash, anchors)
  // Written byte by byte (the same bytes as the chunks): one per HTLC output of every commitment built.
  const size = 133 + (anchors ? 3 : 0)
  const out = into === undefined ? new Uint8Array(size) : into.take(size)
  let at = writeHtlcHead(out, keys)
  out[at++] = OP.OP_NOTIF
  out[at++] = OP.OP_DROP
  at = writeTwoOfTwo(out, at, keys.localHtlcPubkey)
  out[at++] = OP.OP_ELSE
  at = writePaymentHashCheck(out, at, paymentHash)
  out[at++] = OP.OP_CHECKSIG
  out[at++] = OP.OP_ENDIF
  writeHtlcTail(out, at, anchors)
  return out
}

/** Received HTLC output script (HTLC received by the commitment owner): 2-of-2 with the preimage, or the timeout. */
export const receivedHtlcScript = (keys: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry: number, anchors: boolean, into?: ScriptArena): Uint8Array => {
  if (!htlcKeysFit(keys) || !isSmallNum(cltvExpiry)) return receivedHtlcScriptChunks(keys, paymentHash, cltvExpiry, anchors)
  const size = 135 + numSize(cltvExpiry) + (anchors ? 3 : 0)
  const out = into === undefined ? new Uint8Array(size) : into.take(size)
  let at = writeHtlcHead(out, keys)
  out[at++] = OP.OP_IF
  at = writePaymentHashCheck(out, at, paymentHash)
  at = writeTwoOfTwo(out, at, keys.localHtlcPubkey)
  out[at++] = OP.OP_ELSE
  out[at++] = OP.OP_DROP
  at = writeNum(out, at, cltvExpiry)
  out[at++] = OP.OP_CHECKLOCKTIMEVERIFY
  out[at++] = OP.OP_DROP
  out[at++] = OP.OP_CHECKSIG
  out[at++] = OP.OP_ENDIF
  writeHtlcTail(out, at, anchors)
  return out
}

/**
 * RIPEMD-160 of recent payment hashes, for the HTLC scripts: an HTLC is in every commitment built
 * while it is in flight (both sides', each new state: about three builds per HTLC with 50 in
 * flight, two per one-at-a-time round trip), and its script changes with each commitment's keys
 * but its payment hash's RIPEMD-160 does not. A direct-mapped table: a 32-byte payment hash (a
 * hash itself, so its first bytes pick the entry) and its 20-byte digest per entry, one fixed
 * 52 KiB array (nothing allocated per lookup or entry, no `Map`, nothing for the GC to mark); a
 * payment hash is compared in full on a hit, and another one mapping to the same entry replaces
 * it (a peer choosing clashing hashes only costs recomputing them). Synchronous: never re-entered.
 */
const PAYMENT_HASH_ENTRIES = 1024
const PAYMENT_HASH_ENTRY = 32 + 20
const paymentHashDigests = new Uint8Array(PAYMENT_HASH_ENTRIES * PAYMENT_HASH_ENTRY)
/** Which entries hold a payment hash (an all-zero table would otherwise claim the zero hash). */
const paymentHashFilled = new Uint8Array(PAYMENT_HASH_ENTRIES)

/** Writes RIPEMD160(`paymentHash`) (32 bytes) at `out[at..at+20)`, from the table when it holds it. */
const writePaymentHashDigest = (out: Uint8Array, at: number, paymentHash: Uint8Array): void => {
  const entry = (((paymentHash[0] ?? 0) << 8) | (paymentHash[1] ?? 0)) & (PAYMENT_HASH_ENTRIES - 1)
  const base = entry * PAYMENT_HASH_ENTRY
  const table = paymentHashDigests
  if (paymentHashFilled[entry] === 1) {
    let i = 0
    while (i < 32 && table[base + i] === paymentHash[i]) i++
    if (i === 32) {
      for (let k = 0; k < 20; k++) out[at + k] = table[base + 32 + k] ?? 0
      return
    }
  }
  const digest = ripemd(paymentHash)
  table.set(paymentHash, base)
  table.set(digest, base + 32)
  paymentHashFilled[entry] = 1
  out.set(digest, at)
}

/** `OP_HASH160 <RIPEMD160(payment_hash)> OP_EQUALVERIFY` at `at`; returns the end. */
const writePaymentHashCheck = (out: Uint8Array, at: number, paymentHash: Uint8Array): number => {
  out[at] = OP.OP_HASH160
  out[at + 1] = 20
  if (paymentHash.length === 32) writePaymentHashDigest(out, at + 2, paymentHash)
  else out.set(ripemd(paymentHash), at + 2)
  out[at + 22] = OP.OP_EQUALVERIFY
  return at + 23
}

/** `2 OP_SWAP <local_htlcpubkey> 2 OP_CHECKMULTISIG` at `at` (the remote key pushed earlier); returns the end. */
const writeTwoOfTwo = (out: Uint8Array, at: number, localHtlcPubkey: Uint8Array): number => {
  out[at] = OP.OP_2
  out[at + 1] = OP.OP_SWAP
  const end = pushKey(out, at + 2, localHtlcPubkey)
  out[end] = OP.OP_2
  out[end + 1] = OP.OP_CHECKMULTISIG
  return end + 2
}

/** Whether the byte layouts apply: every key 33 bytes (a `PublicKey` always is). */
const htlcKeysFit = (keys: HtlcScriptKeys): boolean =>
  keys.revocationPubkey.length === 33 && keys.remoteHtlcPubkey.length === 33 && keys.localHtlcPubkey.length === 33

/** `htlcScriptHead` as bytes from index 0 (66 bytes): where the rest goes. */
const writeHtlcHead = (out: Uint8Array, keys: HtlcScriptKeys): number => {
  out[0] = OP.OP_DUP
  out[1] = OP.OP_HASH160
  out[2] = 20
  out.set(revocationHash160(keys.revocationPubkey), 3)
  out[23] = OP.OP_EQUAL
  out[24] = OP.OP_IF
  out[25] = OP.OP_CHECKSIG
  out[26] = OP.OP_ELSE
  let at = pushKey(out, 27, keys.remoteHtlcPubkey)
  out[at++] = OP.OP_SWAP
  out[at++] = OP.OP_SIZE
  out[at++] = 1
  out[at++] = 32
  out[at++] = OP.OP_EQUAL
  return at
}

/** `htlcScriptTail` as bytes from `at`. */
const writeHtlcTail = (out: Uint8Array, at: number, anchors: boolean): void => {
  let i = at
  if (anchors) {
    out[i++] = OP.OP_1
    out[i++] = OP.OP_CHECKSEQUENCEVERIFY
    out[i++] = OP.OP_DROP
  }
  out[i] = OP.OP_ENDIF
}

/** `offeredHtlcScript` from chunks: the reference form, for inputs the byte layout does not cover. */
export const offeredHtlcScriptChunks = (keys: HtlcScriptKeys, paymentHash: Uint8Array, anchors: boolean): Uint8Array =>
  compileScript([
    ...htlcScriptHead(keys),
    OP.OP_NOTIF,
    OP.OP_DROP,
    OP.OP_2,
    OP.OP_SWAP,
    keys.localHtlcPubkey,
    OP.OP_2,
    OP.OP_CHECKMULTISIG,
    OP.OP_ELSE,
    OP.OP_HASH160,
    ripemd(paymentHash),
    OP.OP_EQUALVERIFY,
    OP.OP_CHECKSIG,
    OP.OP_ENDIF,
    ...htlcScriptTail(anchors)
  ])

/** `receivedHtlcScript` from chunks: the reference form, for inputs the byte layout does not cover. */
export const receivedHtlcScriptChunks = (keys: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry: number, anchors: boolean): Uint8Array =>
  compileScript([
    ...htlcScriptHead(keys),
    OP.OP_IF,
    OP.OP_HASH160,
    ripemd(paymentHash),
    OP.OP_EQUALVERIFY,
    OP.OP_2,
    OP.OP_SWAP,
    keys.localHtlcPubkey,
    OP.OP_2,
    OP.OP_CHECKMULTISIG,
    OP.OP_ELSE,
    OP.OP_DROP,
    num(cltvExpiry),
    OP.OP_CHECKLOCKTIMEVERIFY,
    OP.OP_DROP,
    OP.OP_CHECKSIG,
    OP.OP_ENDIF,
    ...htlcScriptTail(anchors)
  ])

/** An integer the byte layouts write as a script number: 0 <= n < 2^32 (every delay and CLTV expiry). */
const isSmallNum = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffffffff

/** Bytes of `num(n)` for `isSmallNum(n)`: an opcode for 0..16, else a push of the minimal CScriptNum. */
const numSize = (n: number): number => (n <= 16 ? 1 : n <= 0x7f ? 2 : n <= 0x7fff ? 3 : n <= 0x7fffff ? 4 : n <= 0x7fffffff ? 5 : 6)

/** Writes `num(n)` at `at` (`isSmallNum(n)`): OP_0, OP_1..OP_16, or a push of n little-endian (a 0x00 after a top bit set). */
const writeNum = (out: Uint8Array, at: number, n: number): number => {
  if (n === 0) {
    out[at] = OP.OP_0
    return at + 1
  }
  if (n <= 16) {
    out[at] = OP.OP_1 + n - 1
    return at + 1
  }
  const length = numSize(n) - 1
  out[at] = length
  let v = n
  for (let i = 1; i <= length; i++) {
    out[at + i] = v % 256
    v = Math.floor(v / 256)
  }
  return at + 1 + length
}

/** Writes the push of a 33-byte key at `at`: where the next byte goes. */
const pushKey = (out: Uint8Array, at: number, key: Uint8Array): number => {
  out[at] = 33
  out.set(key, at + 1)
  return at + 34
}
