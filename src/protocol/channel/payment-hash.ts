/**
 * A preimage's payment hash, SHA256(preimage) (BOLT 2 `update_fulfill_htlc`: the preimage must
 * hash to the HTLC's `payment_hash`), with the last one computed kept.
 *
 * Each fulfill is hashed twice per node otherwise: the channel checks the preimage against its
 * HTLC (`sendFulfill`, `receiveFulfill`), then its monitor applies the `PaymentPreimage` update
 * that holds the very same preimage object and hashes it again to index it. One slot (the
 * preimage object, a copy of its bytes, its hash), not a map: the two calls come one right after
 * the other, and a slot holds 32 bytes and one hash whatever the number of channels.
 */
import { equalBytes } from "../bytes.ts"
import { sha256 } from "../tx/bitcoin/hash.ts"

/** The preimage last hashed (compared by identity, then by bytes: a preimage changed since is no hit). */
let lastPreimage: Uint8Array | undefined
/** Its bytes when it was hashed (reused: preimages are 32 bytes, others are not kept). */
const lastBytes = new Uint8Array(32)
let lastHash: Uint8Array | undefined

/**
 * SHA256(preimage). The same array for the same preimage object while its bytes are unchanged
 * and no other preimage was hashed in between (callers never change a hash).
 */
export const paymentHashOf = (preimage: Uint8Array): Uint8Array => {
  if (preimage === lastPreimage && lastHash !== undefined && equalBytes(preimage, lastBytes)) return lastHash
  const hash = sha256(preimage)
  if (preimage.length === lastBytes.length) {
    lastPreimage = preimage
    lastBytes.set(preimage)
    lastHash = hash
  }
  return hash
}
