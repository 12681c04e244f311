/**
 * Exact-length reads over a `Connection`, whose `read` hands out chunks of any size. The Peer
 * needs "the next 50 bytes" (a handshake act), "the next 18 bytes" (a BOLT 8 header) and "the
 * next length + 16 bytes" (a body). What is buffered is bounded by the largest request plus one
 * chunk, and requests are bounded by the caller (at most a BOLT 8 packet).
 */
import { Effect } from "effect"
import type { Connection, TransportClosed } from "../services/Transport.ts"

export interface StreamReader {
  /** The next `length` bytes, waiting for as many chunks as needed. */
  readonly readExactly: (length: number) => Effect.Effect<Uint8Array, TransportClosed>
}

export const makeStreamReader = (connection: Connection): StreamReader => {
  const chunks: Array<Uint8Array> = []
  let buffered = 0
  let head = 0 // bytes of chunks[0] already consumed

  const take = (length: number): Uint8Array => {
    const out = new Uint8Array(length)
    let filled = 0
    while (filled < length) {
      const chunk = chunks[0]
      if (chunk === undefined) break
      const n = Math.min(length - filled, chunk.length - head)
      out.set(chunk.subarray(head, head + n), filled)
      filled += n
      head += n
      if (head === chunk.length) {
        chunks.shift()
        head = 0
      }
    }
    buffered -= length
    return out
  }

  return {
    readExactly: (length) =>
      Effect.gen(function*() {
        while (buffered < length) {
          const chunk = yield* connection.read
          if (chunk.length === 0) continue
          chunks.push(chunk)
          buffered += chunk.length
        }
        return take(length)
      })
  }
}
