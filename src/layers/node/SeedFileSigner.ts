/**
 * Production `NodeSigner`: the node secret derived (`protocol/keys/seed.ts`, `deriveNodeSecret`) from the seed
 * file in the data directory (`SeedFile.loadOrCreateSeed`, created on first start). The secret
 * lives only inside the signer's closure (`makeNodeSigner`); the seed bytes are dropped after
 * derivation.
 */
import { Effect, Layer } from "effect"
import type { FileSystem, Path } from "effect"
import type { Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { Crypto } from "../../services/Crypto.ts"
import { makeNodeSigner } from "../InMemoryNodeSigner.ts"
import type { Entropy } from "../../services/Entropy.ts"
import { NodeSigner } from "../../services/NodeSigner.ts"
import { loadOrCreateSeed, type SeedFileCorrupt, type SeedFileError } from "./SeedFile.ts"
import { deriveNodeSecret } from "../../protocol/keys/seed.ts"

/**
 * Loads (or creates) `<dataDir>/node_seed` and builds the signer over its node secret, with
 * `secp` if given, else the `Crypto` reference's (the fastest that loads).
 */
export const layer = (
  dataDir: string,
  secp?: Secp256k1
): Layer.Layer<NodeSigner, SeedFileError | SeedFileCorrupt, FileSystem.FileSystem | Path.Path | Entropy> =>
  Layer.effect(
    NodeSigner,
    Effect.gen(function*() {
      const curve = secp ?? (yield* Crypto).secp
      const { seed } = yield* loadOrCreateSeed(dataDir)
      const secret = deriveNodeSecret(seed, curve)
      seed.fill(0)
      const signer = makeNodeSigner(secret, curve)
      secret.fill(0)
      return signer
    })
  )
