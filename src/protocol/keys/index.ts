/**
 * BOLT 3 keys: per-commitment secrets and key derivation. Pure code; EC operations take a
 * `Secp256k1` (src/protocol/crypto/secp256k1.ts) so noble and WASM are interchangeable.
 *
 * API (stable):
 * - keys.ts: `PublicKey` (branded 33-byte point), `PrivateKey` (= `Redacted<Uint8Array>`: prints
 *   as `<redacted>`), `unsafePublicKey(bytes)`, `parsePublicKey(secp, bytes): Result`,
 *   `makePrivateKey(secp, bytes): Result`, `publicKeyOf(secp, key)`, error `InvalidKey`.
 * - shachain.ts: `perCommitmentSecret(seed, index: bigint)` (generate_from_seed; first index is
 *   `FIRST_INDEX` = 2^48-1, counting down; `indexOfCommitment(n)` = 2^48-1-n);
 *   receiver storage `emptySecretStore`, `insertSecret(store, secret, index): Result<SecretStore, ShachainError>`
 *   (immutable; rejects a secret inconsistent with those held, or an index that is not the previous
 *   one minus 1), `deriveOldSecret(store, index): Result`, `storedSecretCount(store)` (<= 49),
 *   `encodeSecretStore` / `decodeSecretStore(bytes): Result` (persistence).
 * - derivation.ts: `perCommitmentPoint(secp, secret)`, `derivePublicKey(secp, basepoint, point)`
 *   (localpubkey / htlcpubkey / delayedpubkey), `derivePrivateKey(secp, basepointSecret, point)`,
 *   `deriveRevocationPublicKey(secp, revocationBasepoint, point)`,
 *   `deriveRevocationPrivateKey(secp, revocationBasepointSecret, perCommitmentSecret)`; all return
 *   `Result<_, KeyDerivationError>`.
 * - commitment-keys.ts: `ChannelBasepoints` (funding pubkey + 4 basepoints), `CommitmentKeys`
 *   (keys of one commitment, BOLT 3 "local" = owner), `deriveCommitmentKeys(secp, owner, counterparty, ownerPerCommitmentPoint)`.
 * - commitment-keys-cache.ts: `CommitmentKeysCache` (bounded LRU memo of `deriveCommitmentKeys`,
 *   keyed by every input it reads), `makeCommitmentKeysCache(capacity)`, `sharedCommitmentKeysCache`
 *   (the process-wide one the builders and the in-process signer use by default).
 * - per-commitment-points.ts: `PerCommitmentPoints` (bounded LRU memo of `perCommitmentPoint`,
 *   keyed by a tagged hash of the secret), `makePerCommitmentPoints(capacity)`,
 *   `sharedPerCommitmentPoints` (used by the channel's revocation checks, the signer, monitors).
 * - derivation.ts also has `derivePrivateKeyAtBasepoint(secp, secret, basepoint, point)` (the
 *   basepoint already known: no point multiplication).
 */
export * from "./commitment-keys.ts"
export * from "./commitment-keys-cache.ts"
export * from "./derivation.ts"
export * from "./keys.ts"
export * from "./per-commitment-points.ts"
export * from "./shachain.ts"
