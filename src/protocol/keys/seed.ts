/**
 * Key derivation from the node seed: the one way this project derives a key from a seed
 * (the production node, the browser node, the channel signer's per-channel keys). One 32-byte seed (see `SeedFile.ts`) yields every key of
 * the node, each under its own label, so new kinds of keys (channel base points, shutdown keys)
 * can be added later without touching the node key:
 *
 *     secret(label) = HKDF-SHA256(ikm = seed, salt = "effect-lightning/seed/v1",
 *                                 info = label || counter, length = 32)
 *
 * `counter` is one byte starting at 0; it is increased only in the (probability ~2^-128) case
 * where the output is not a valid secp256k1 secret (zero or >= the group order), so that the
 * derivation is total. Labels in use:
 *
 * - `"node"` (`NODE_KEY_LABEL`): the node secret (BOLT 1 node id, BOLT 8 static key).
 * - `"channel-signer"` (`CHANNEL_SIGNER_SEED_LABEL`): the seed of the in-process channel signer,
 *   which derives every channel's keys from it and the channel's key id
 *   (`"channel/<hex key id>/<purpose>"`, `layers/signer/SeedChannelSigner.ts`).
 * - `"shutdown/0"` (`SHUTDOWN_KEY_LABEL`): the key of the node's payout (shutdown) script, P2WPKH.
 * - `"wallet"` (`WALLET_SEED_LABEL`): the on-chain wallet's BIP 32 seed.
 */
import { extract, hkdf } from "@noble/hashes/hkdf.js"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { concatBytes } from "../bytes.ts"
import { nobleSecp256k1, type Secp256k1 } from "../crypto/secp256k1.ts"

const SALT = new TextEncoder().encode("effect-lightning/seed/v1")
export const NODE_KEY_LABEL = "node"
export const CHANNEL_SIGNER_SEED_LABEL = "channel-signer"
export const SHUTDOWN_KEY_LABEL = "shutdown/0"
export const WALLET_SEED_LABEL = "wallet"

/** The valid secp256k1 secret derived from `seed` under `label` (see the module doc). */
export const deriveSecret = (seed: Uint8Array, label: string, secp: Secp256k1 = nobleSecp256k1): Uint8Array => {
  const info = new TextEncoder().encode(label)
  for (let counter = 0; counter < 256; counter++) {
    const candidate = hkdf(sha256, seed, SALT, concatBytes(info, Uint8Array.of(counter)), 32)
    if (secp.isValidSecret(candidate)) return candidate
  }
  // 256 consecutive invalid outputs of HKDF-SHA256: not reachable with a working hash.
  throw new Error("deriveSecret: no valid secret")
}

/**
 * `deriveSecret(seed, label)` for many labels of one seed: HKDF's extract step (the same PRK for
 * every label) is done once, and so is the HMAC key schedule of the PRK; each label then costs
 * one HMAC of a short message, on one reused HMAC state (no hasher made per label).
 */
export const secretDeriver = (seed: Uint8Array, secp: Secp256k1 = nobleSecp256k1): (label: string) => Uint8Array => {
  const prk = extract(sha256, seed, SALT)
  const keyed = hmac.create(sha256, prk)
  prk.fill(0)
  const work = keyed.clone()
  const encoder = new TextEncoder()
  const tail = new Uint8Array(2)
  return (label) => {
    const info = encoder.encode(label)
    for (let counter = 0; counter < 256; counter++) {
      // HKDF-Expand, one block: T(1) = HMAC(PRK, info || counter || 0x01).
      keyed._cloneInto(work)
      tail[0] = counter
      tail[1] = 1
      const candidate = new Uint8Array(32)
      work.update(info).update(tail).digestInto(candidate)
      if (secp.isValidSecret(candidate)) return candidate
    }
    throw new Error("deriveSecret: no valid secret")
  }
}

/** The node secret of a seed: `deriveSecret(seed, "node")`. */
export const deriveNodeSecret = (seed: Uint8Array, secp: Secp256k1 = nobleSecp256k1): Uint8Array =>
  deriveSecret(seed, NODE_KEY_LABEL, secp)
