/**
 * BOLT 3 witness scripts ("Funding Transaction Output", "Commitment Transaction Outputs",
 * "HTLC-Timeout and HTLC-Success Transactions"). Each function returns the witness script;
 * wrap it with `p2wshScript` for the output. `anchors` selects the option_anchors variant
 * (the extra `1 OP_CHECKSEQUENCEVERIFY OP_DROP` on HTLC outputs).
 */
import { compareBytes, equalBytes } from "../bytes.ts"
import type { PublicKey } from "../keys/keys.ts"
import { ripemd, hash160 } from "./bitcoin/hash.ts"
import { compileScript, num, OP, type ScriptChunk } from "./bitcoin/script.ts"

/** The funding keys in BOLT 3 order: lexicographically lesser compressed key first. */
export const sortFundingKeys = (a: PublicKey, b: PublicKey): readonly [PublicKey, PublicKey] =>
  compareBytes(a, b) <= 0 ? [a, b] : [b, a]

/** `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG` with the keys sorted. */
export const fundingScript = (a: PublicKey, b: PublicKey): Uint8Array => {
  const [k1, k2] = sortFundingKeys(a, b)
  return compileScript([OP.OP_2, k1, k2, OP.OP_2, OP.OP_CHECKMULTISIG])
}

/**
 * `to_local` (and the output of HTLC-success/timeout transactions):
 * OP_IF <revocationpubkey> OP_ELSE to_self_delay OP_CSV OP_DROP <local_delayedpubkey> OP_ENDIF OP_CHECKSIG
 */
export const toLocalScript = (revocationPubkey: PublicKey, toSelfDelay: number, localDelayedPubkey: PublicKey): Uint8Array =>
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
 * What the offered and received HTLC scripts share: the revocation key spends at once;
 * otherwise the remote HTLC signature is checked later and the size of the next item (a 32-byte
 * preimage or not) picks the branch.
 */
/**
 * HASH160 of a revocation key, remembered per key array (with a copy compared on a hit): every
 * HTLC output of a commitment has the same revocation key, so a commitment with n HTLCs hashes
 * it once rather than n times. Weak: an entry lives as long as the key array does.
 */
const revocationHashes = new WeakMap<Uint8Array, { readonly key: Uint8Array; readonly hash: Uint8Array }>()
const revocationHash160 = (key: Uint8Array): Uint8Array => {
  const held = revocationHashes.get(key)
  if (held !== undefined && equalBytes(held.key, key)) return held.hash
  const hash = hash160(key)
  revocationHashes.set(key, { key: Uint8Array.from(key), hash })
  return hash
}

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
export const offeredHtlcScript = (keys: HtlcScriptKeys, paymentHash: Uint8Array, anchors: boolean): Uint8Array =>
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

/** Received HTLC output script (HTLC received by the commitment owner): 2-of-2 with the preimage, or the timeout. */
export const receivedHtlcScript = (keys: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry: number, anchors: boolean): Uint8Array =>
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
