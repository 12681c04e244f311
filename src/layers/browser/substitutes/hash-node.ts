/**
 * Browser stand-in for `src/protocol/crypto/hash-node.ts` (which uses `node:crypto` for long
 * inputs and streams): the browser build (`browser/build.ts`) resolves every import of that
 * module to this one, as a package's `browser` field would. Same exports, same bytes: noble
 * (`hash-noble.ts`) at every size. `satisfies typeof NodeHash` keeps the two export lists equal.
 */
import type * as NodeHash from "../../../protocol/crypto/hash-node.ts"
import { createSha256, sha256, sha256Concat, sha256Hash, sha256Into } from "../../../protocol/crypto/hash-noble.ts"

export type { Sha256Stream } from "../../../protocol/crypto/hash-noble.ts"
export { createSha256, sha256, sha256Concat, sha256Hash, sha256Into }

/** Kept for export parity; nothing routes by size in the browser. */
export const JAVASCRIPT_MAX_INPUT = 511

export const exportsMatch = { JAVASCRIPT_MAX_INPUT, sha256, sha256Into, sha256Concat, createSha256, sha256Hash } satisfies Omit<typeof NodeHash, never>
