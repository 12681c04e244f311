/**
 * Key types shared by BOLT 3 key derivation and transaction building.
 *
 * A `PublicKey` is a 33-byte compressed secp256k1 point (branded so an arbitrary byte array,
 * a txid or a hash cannot be passed where a key is expected). A `PrivateKey` is a 32-byte
 * secret wrapped in effect's `Redacted`: printing, JSON-encoding or inspecting it yields
 * `<redacted>`, so a key cannot leak into logs, errors, traces or persisted state by accident.
 * Use `Redacted.value(key)` only at the point of signing.
 */
import { Data, Redacted, Result } from "effect"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { PublicKey } from "../units.ts"

export { PublicKey }
export type PrivateKey = Redacted.Redacted<Uint8Array>

export class InvalidKey extends Data.TaggedError("InvalidKey")<{ readonly reason: string }> {}

/**
 * Brands trusted bytes (constants, test vectors, output of this library) as a public key: the
 * length and prefix are checked (a `BrandError` is thrown otherwise), the curve is not.
 */
export const unsafePublicKey = (bytes: Uint8Array): PublicKey => PublicKey(bytes)

/** Checks that `bytes` is a valid compressed point (e.g. a key received from a peer). */
export const parsePublicKey = (secp: Secp256k1, bytes: Uint8Array): Result.Result<PublicKey, InvalidKey> =>
  bytes.length === 33 && secp.isValidPoint(bytes)
    ? Result.succeed(PublicKey(bytes))
    : Result.fail(new InvalidKey({ reason: "not a valid compressed secp256k1 point" }))

/** Wraps 32 secret bytes; fails (without echoing the bytes) if they are not a valid scalar. */
export const makePrivateKey = (secp: Secp256k1, bytes: Uint8Array): Result.Result<PrivateKey, InvalidKey> =>
  secp.isValidSecret(bytes)
    ? Result.succeed(Redacted.make(Uint8Array.from(bytes), { label: "PrivateKey" }))
    : Result.fail(new InvalidKey({ reason: "not a valid secp256k1 secret key" }))

export const publicKeyOf = (secp: Secp256k1, key: PrivateKey): PublicKey => {
  const pub = secp.publicKey(Redacted.value(key))
  // A PrivateKey is only constructed from a valid scalar, so this cannot be undefined.
  if (pub === undefined) throw new Error("invalid private key")
  return PublicKey(pub)
}
