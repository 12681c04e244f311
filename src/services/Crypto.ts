/**
 * The curve and AEAD implementations the engine uses (BOLT 8 handshakes and transport, node and
 * channel keys, signatures): ONE setting, a `Context.Reference` whose default is the fastest
 * that loads on this platform: secp256k1 native (libsecp256k1 addon), else WASM, else noble
 * (`fastestSecp256k1`), and ChaCha20-Poly1305 from libsodium (WASM) for short inputs and Node's
 * OpenSSL for long ones (`nodeChaChaPoly`). Nothing loads at import: the secp256k1 backend is
 * chosen on first use, libsodium loads asynchronously on first use (noble serves until then).
 *
 * Every implementation gives the same bytes (the tests run every vector on each), so the choice
 * changes speed only. Provide another value to pin one, e.g. the portable one:
 * `Effect.provideService(Crypto, portableCrypto)`.
 *
 * The one service whose default lives in `layers/` (it loads native code and WebAssembly), as
 * Effect's own `Clock` reference defaults to the live clock.
 */
import { Context, Layer } from "effect"
import { nodeChaChaPoly } from "../layers/crypto/aead-node.ts"
import { fastestSecp256k1 } from "../layers/crypto/secp256k1-best.ts"
import { nobleChaChaPoly } from "../protocol/crypto/aead.ts"
import { nobleSecp256k1 } from "../protocol/crypto/secp256k1.ts"
import type { NoiseCrypto } from "../protocol/noise/handshake.ts"

/** secp256k1 and ChaCha20-Poly1305 (the `NoiseCrypto` pair of the BOLT 8 code). */
export type CryptoShape = NoiseCrypto

/** The fastest implementations that load here, chosen on first use. */
export const fastestCrypto: CryptoShape = { secp: fastestSecp256k1, aead: nodeChaChaPoly }

/** Pure JavaScript (noble) for both: runs anywhere, loads nothing, slowest. */
export const portableCrypto: CryptoShape = { secp: nobleSecp256k1, aead: nobleChaChaPoly }

const CryptoReference = Context.Reference<CryptoShape>("effect-lightning/Crypto", {
  defaultValue: () => fastestCrypto
})

/** The reference, with its layer as `Crypto.layer(crypto)` (as service classes carry `static layer`). */
export const Crypto = Object.assign(CryptoReference, {
  /** A layer that sets the crypto implementations. */
  layer: (crypto: CryptoShape): Layer.Layer<never> => Layer.succeed(CryptoReference, crypto)
})
