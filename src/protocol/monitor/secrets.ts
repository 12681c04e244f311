/**
 * JSON form of the receiver-side per-commitment secret storage (BOLT 3 "Efficient
 * Per-commitment Secret Storage", `src/protocol/keys/shachain.ts`): the storage's own byte
 * encoding (`encodeSecretStore`) as hex. Decoding goes through `decodeSecretStore`, so a
 * persisted storage that `insertSecret` could not have produced (missing bucket, inconsistent
 * secrets, wrong lengths) is a Schema error, not a storage that later rejects the peer's next
 * valid secret.
 */
import { Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import {
  decodeSecretStore,
  encodeSecretStore,
  type KnownSecret,
  type SecretStore
} from "../keys/shachain.ts"

const isKnownSecret = (u: unknown): u is KnownSecret =>
  typeof u === "object" && u !== null && "index" in u && typeof u.index === "bigint" && "secret" in u && u.secret instanceof Uint8Array

const isSecretStore = (u: unknown): u is SecretStore =>
  typeof u === "object" &&
  u !== null &&
  "buckets" in u &&
  Array.isArray(u.buckets) &&
  u.buckets.every((b: unknown) => b === undefined || isKnownSecret(b)) &&
  "lastIndex" in u &&
  (u.lastIndex === undefined || typeof u.lastIndex === "bigint")

/** `SecretStore` <-> hex of `encodeSecretStore` (1 count byte, then 38 bytes per held secret). */
export const SecretStoreSchema: Schema.Codec<SecretStore, string> = Schema.Uint8ArrayFromHex.pipe(
  Schema.decodeTo(
    Schema.declare(isSecretStore),
    SchemaTransformation.transformEffect({
      decode: (bytes: Uint8Array) => {
        const r = decodeSecretStore(bytes)
        return Result.isSuccess(r)
          ? Effect.succeed(r.success)
          : Effect.fail(new SchemaIssue.InvalidValue({ message: `invalid secret storage: ${r.failure.reason}` }, bytes))
      },
      encode: (store: SecretStore) => Effect.succeed(encodeSecretStore(store))
    })
  )
)
