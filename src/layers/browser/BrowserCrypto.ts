/**
 * The crypto of a node in a browser: noble (pure JavaScript) for secp256k1 and
 * ChaCha20-Poly1305, byte-identical to the native and WASM backends. The `Crypto` reference's
 * default already comes to this in the browser bundle (`browser/build.ts` swaps the Node-only
 * backends for stand-ins that report themselves unavailable); this layer pins it explicitly, and
 * loads nothing.
 */
import type { Layer } from "effect"
import { Crypto, type CryptoShape, portableCrypto } from "../../services/Crypto.ts"

export const browserCrypto: CryptoShape = portableCrypto

/** Sets the `Crypto` reference to `browserCrypto`. */
export const layer: Layer.Layer<never> = Crypto.layer(browserCrypto)
