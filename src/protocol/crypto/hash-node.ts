/**
 * SHA-256 on Node: noble's reused hasher (`hash-noble.ts`) for short inputs, OpenSSL
 * (`node:crypto`) for long ones and for streams. Same exports and same bytes as `hash-noble.ts`;
 * the browser build (`browser/build.ts`) and the package's `browser` field resolve this module
 * to `src/layers/browser/substitutes/hash-node.ts`, which is noble throughout. Checked against
 * plain noble on random inputs of every length (test/protocol/crypto/hash.test.ts).
 *
 * Where each wins was measured inside the 300-node simulation, not only in a tight loop
 * (`npm run bench -- hash`), because the two disagree. In a loop OpenSSL's one-shot
 * `hash("sha256", x)` costs ~0.6-0.8 us flat and beats noble (~0.35 us per 64-byte block) from
 * two blocks on. Inside the simulation each OpenSSL call also pays its cold path (binding, an
 * EVP context, a result Buffer off the JS heap, now and then a collection): timed call by call
 * over a whole run, each mode alone, 120-300 byte inputs (BIP 143 preimages, transactions) cost
 * 1.9 us median and 2.8 us mean on OpenSSL against 1.7 us (median and mean) on noble. So one-shot hashes
 * go to OpenSSL only from 512 bytes (onion packets: ~4x there in a loop). A stream is one
 * OpenSSL context fed many times: no per-call setup, and in the simulation its `update` costs
 * a third to a quarter of noble's from 56 bytes up (the fingerprint of every delivered message);
 * short parts are gathered first (below).
 * HMAC stays on noble (`onion/keys.ts`): `createHmac` per call lost overall in the same
 * measurement (peeling 19 us against 12 us median, though failure decryption gained).
 *
 * Node's digests are Buffers of their own 32-byte ArrayBuffer (off the JS heap); each is copied
 * into a plain `Uint8Array` on the heap, so callers get the array type they always had (a
 * Buffer's `slice` shares memory, and tests compare array types) and a kept digest costs no
 * external allocation.
 */
import { createHash, hash } from "node:crypto"
import * as noble from "./hash-noble.ts"

export type { Sha256Stream } from "./hash-noble.ts"
/** SHA-256 for noble's `hmac` (HMAC stays on noble: see the module doc). */
export { sha256Hash } from "./hash-noble.ts"

/** Longest input a one-shot hash leaves to JavaScript; longer ones go to OpenSSL (see the module doc). */
export const JAVASCRIPT_MAX_INPUT = 511

/** A Node digest copied into a fresh plain array on the JS heap. */
const onHeap = (digest: Uint8Array): Uint8Array => {
  const out = new Uint8Array(digest.length)
  out.set(digest)
  return out
}

/** SHA256(x): noble's reused hasher up to `JAVASCRIPT_MAX_INPUT` bytes, OpenSSL's one-shot digest beyond. */
export const sha256 = (data: Uint8Array): Uint8Array =>
  data.length <= JAVASCRIPT_MAX_INPUT ? noble.sha256(data) : onHeap(hash("sha256", data, "buffer"))

/** SHA256(x) written at `out[at, at + 32)`: noble's reused hasher up to `JAVASCRIPT_MAX_INPUT` bytes, OpenSSL's one-shot digest (copied) beyond. */
export const sha256Into = (data: Uint8Array, out: Uint8Array, at: number): void => {
  if (data.length <= JAVASCRIPT_MAX_INPUT) noble.sha256Into(data, out, at)
  else out.set(hash("sha256", data, "buffer"), at)
}

/**
 * Where `sha256Concat` joins two long parts for one OpenSSL call (a Hash object and two `update`
 * calls cost more than copying a kilobyte): reused, synchronous, never re-entered.
 */
const joined = new Uint8Array(2048)

/** SHA256(a || b): noble's reused hasher up to `JAVASCRIPT_MAX_INPUT` bytes; else OpenSSL, the parts joined in a reused buffer (or streamed when longer than it). */
export const sha256Concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const length = a.length + b.length
  if (length <= JAVASCRIPT_MAX_INPUT) return noble.sha256Concat(a, b)
  if (length > joined.length) return onHeap(createHash("sha256").update(a).update(b).digest())
  joined.set(a)
  joined.set(b, a.length)
  return onHeap(hash("sha256", joined.subarray(0, length), "buffer"))
}

/** Stream parts shorter than this are gathered and handed to OpenSSL together; longer ones go straight to it. */
const GATHER_BELOW = 1024
/** Size of each stream's gathering buffer. */
const GATHER_SIZE = 8192

/**
 * A streaming SHA-256 on one OpenSSL context. Each `update` is a call into C++ that costs more
 * than copying a short part, and most parts are short (the simulation's fingerprint: a 21-byte
 * record head, then the message), so short parts are copied into a buffer of the stream's own
 * and hashed a buffer at a time. Every part is consumed (copied or hashed) before `update`
 * returns: the caller may reuse its buffer.
 */
export const createSha256 = (): noble.Sha256Stream => {
  const h = createHash("sha256")
  const gathered = new Uint8Array(GATHER_SIZE)
  let used = 0
  const flush = (): void => {
    if (used > 0) h.update(gathered.subarray(0, used))
    used = 0
  }
  return {
    update: (data) => {
      if (data.length >= GATHER_BELOW) {
        flush()
        h.update(data)
        return
      }
      if (used + data.length > GATHER_SIZE) flush()
      gathered.set(data, used)
      used += data.length
    },
    digest: () => {
      flush()
      return onHeap(h.digest())
    }
  }
}
