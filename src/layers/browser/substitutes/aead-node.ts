/**
 * Browser stand-in for `src/layers/crypto/aead-node.ts` (which needs `node:crypto`): the
 * browser build (`browser/build.ts`) resolves every import of that module to this one, as a
 * package's `browser` field would. Same exports, same bytes: ChaCha20-Poly1305 (RFC 8439, the
 * BOLT 8 AEAD) is noble's pure JavaScript here, so the `Crypto` reference's default works in a
 * tab without loading anything. `satisfies typeof NodeAead` keeps the two export lists equal.
 */
import { nobleChaChaPoly, type ChaChaPoly } from "../../../protocol/crypto/aead.ts"
import type * as NodeAead from "../../crypto/aead-node.ts"

/** There is no OpenSSL in a browser: noble under the same name, so imports keep working. */
export const opensslChaChaPoly: ChaChaPoly = { ...nobleChaChaPoly, name: "noble (browser)" }

/** Kept for export parity; nothing routes by size in the browser. */
export const SHORT_INPUT_LIMIT = 2048

/** The browser's default AEAD: noble (pure JavaScript). */
export const nodeChaChaPoly: ChaChaPoly = opensslChaChaPoly

export const exportsMatch = { opensslChaChaPoly, SHORT_INPUT_LIMIT, nodeChaChaPoly } satisfies Omit<typeof NodeAead, never>
