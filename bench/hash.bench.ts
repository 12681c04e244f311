/**
 * SHA-256 and HMAC-SHA256: noble (pure JavaScript) against Node's OpenSSL per input size, and the
 * platform module the protocol calls (`src/protocol/crypto/hash-node.ts`, which picks one of the
 * two by size), all in one run:
 *  - one-shot SHA-256: noble's `sha256(x)` (a hasher per call), noble's reused hasher
 *    (`hash-noble.ts`), OpenSSL's one-shot `hash("sha256", x)` copied onto the JS heap, and the
 *    platform `sha256`;
 *  - SHA256(a || b) of two halves (`sha256Concat`, e.g. BOLT 3 key tweaks over two 33-byte points),
 *    also of two freshly made points (which noble's `update` would move off the JS heap);
 *  - HMAC-SHA256 with a 32-byte key: noble's `hmac()` (what `onion/keys.ts` `hmacSha256` runs), a
 *    noble HMAC keyed once and copied per call (BOLT 4 key generation, a constant key), and
 *    `createHmac`;
 *  - attribution data's 20 HMACs of one node (BOLT 4): copies of one keyed noble HMAC that has
 *    absorbed the return packet, against 20 `createHmac` each fed the packet again;
 *  - a stream fed records of a 21-byte head and a message (the simulation's fingerprint): noble's
 *    hasher, an OpenSSL Hash fed each part, and the platform `createSha256` (OpenSSL, short parts
 *    gathered first).
 *
 * Method: every case is run in turns, ROUNDS times, in this one process, so a disturbance of the
 * shared machine hits all alike; a turn's time is this thread's CPU time
 * (`process.threadCpuUsage`) over at least TURN_MS; the figure is the best turn, in ns per call.
 *
 * A tight loop flatters OpenSSL: its code, its EVP context and the binding stay hot, and the
 * result Buffers it allocates off the JS heap are collected on other threads. Called from the
 * simulation, between everything else a node does, the same one-shot calls cost 2-3x more
 * (timed call by call over a run; see `hash-node.ts`), which is why the platform module leaves
 * inputs below 512 bytes, and HMAC, to JavaScript although the OpenSSL column wins from ~64
 * bytes here.
 */
import { createHash, createHmac, hash } from "node:crypto"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"
import * as noble from "../src/protocol/crypto/hash-noble.ts"
import * as platform from "../src/protocol/crypto/hash-node.ts"

const ROUNDS = 5
const TURN_MS = 20

const fill = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

const threadCpuUs = (): number => {
  const u = process.threadCpuUsage()
  return u.user + u.system
}

/** Keeps results alive so no call is optimised away. */
let sink = 0

interface Case {
  readonly label: string
  readonly op: () => Uint8Array
  best: number
}

/** Runs `op` in batches until TURN_MS of this thread's CPU has passed; ns per call. */
const turn = (op: () => Uint8Array): number => {
  let calls = 0
  const start = threadCpuUs()
  let elapsed = 0
  while (elapsed < TURN_MS * 1000) {
    for (let i = 0; i < 200; i++) sink ^= op()[0] ?? 0
    calls += 200
    elapsed = threadCpuUs() - start
  }
  return (elapsed * 1000) / calls
}

/** Every case, in turns, ROUNDS times; keeps each case's best turn. */
const measure = (cases: ReadonlyArray<Case>): void => {
  for (const c of cases) turn(c.op)
  for (let r = 0; r < ROUNDS; r++) for (const c of cases) c.best = Math.min(c.best, turn(c.op))
}

const table = (title: string, head: ReadonlyArray<string>, rows: ReadonlyArray<readonly [string, ReadonlyArray<Case>]>): void => {
  measure(rows.flatMap(([, cases]) => cases))
  console.log(`\n${title} (ns per call, best of ${ROUNDS} turns)`)
  console.log(["".padEnd(14), ...head.map((h) => h.padStart(15))].join(""))
  for (const [label, cases] of rows) console.log([label.padEnd(14), ...cases.map((c) => c.best.toFixed(0).padStart(15))].join(""))
}

const make = (label: string, op: () => Uint8Array): Case => ({ label, op, best: Infinity })

const onHeap = (b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(b.length)
  out.set(b)
  return out
}

const SIZES = [0, 32, 55, 56, 64, 100, 120, 200, 300, 511, 512, 1000, 1366, 3000]

const sha256Table = (): void =>
  table(
    "SHA-256, one shot",
    ["noble", "noble reused", "OpenSSL", "platform"],
    SIZES.map((n) => {
      const d = fill(n, n)
      return [
        `${n} B`,
        [
          make("noble", () => nobleSha256(d)),
          make("noble reused", () => noble.sha256(d)),
          make("OpenSSL", () => onHeap(hash("sha256", d, "buffer"))),
          make("platform", () => platform.sha256(d))
        ]
      ] as const
    })
  )

/** A noble hasher fed the two parts one after the other (what `sha256Concat` does outside 65-128 bytes). */
const twoUpdates = (() => {
  const initial = nobleSha256.create()
  const hasher = nobleSha256.create()
  return (a: Uint8Array, b: Uint8Array): Uint8Array => {
    initial._cloneInto(hasher)
    hasher.update(a)
    hasher.update(b)
    return hasher.digest()
  }
})()

/** A fresh 33-byte array, as a point just computed is (short arrays live on the JS heap until something views their buffer). */
const freshPoint = (seed: number): Uint8Array => {
  const p = new Uint8Array(33)
  p[0] = 2
  p[1] = seed & 0xff
  return p
}

const concatTable = (): void => {
  let k = 0
  table(
    "SHA256(a || b), two halves",
    ["two updates", "noble reused", "OpenSSL 2 upd", "platform"],
    [
      ...[32, 66, 200, 512, 1366, 3000].map((n) => {
        const a = fill(n >> 1, 1)
        const b = fill(n - (n >> 1), 2)
        return [
          `${n} B`,
          [
            make("two updates", () => twoUpdates(a, b)),
            make("noble reused", () => noble.sha256Concat(a, b)),
            make("OpenSSL", () => onHeap(createHash("sha256").update(a).update(b).digest())),
            make("platform", () => platform.sha256Concat(a, b))
          ]
        ] as const
      }),
      [
        "66 B, fresh",
        [
          make("two updates", () => twoUpdates(freshPoint(k++), freshPoint(k++))),
          make("noble reused", () => noble.sha256Concat(freshPoint(k++), freshPoint(k++))),
          make("OpenSSL", () => onHeap(createHash("sha256").update(freshPoint(k++)).update(freshPoint(k++)).digest())),
          make("platform", () => platform.sha256Concat(freshPoint(k++), freshPoint(k++)))
        ]
      ] as const
    ]
  )
}

const hmacTable = (): void => {
  const key = fill(32, 7)
  const keyed = hmac.create(nobleSha256, key)
  const work = keyed.clone()
  table(
    "HMAC-SHA256, 32-byte key",
    ["noble hmac()", "noble keyed", "createHmac"],
    [32, 100, 200, 1366].map((n) => {
      const d = fill(n, n)
      return [
        `${n} B`,
        [
          make("noble", () => hmac(nobleSha256, key, d)),
          make("noble keyed", () => {
            keyed._cloneInto(work)
            const out = new Uint8Array(32)
            work.update(d).digestInto(out)
            return out
          }),
          make("createHmac", () => onHeap(createHmac("sha256", key).update(d).digest()))
        ]
      ] as const
    })
  )
}

/** A node's 20 attribution HMACs: hmac_0_y covers the return packet, then 4(y + 1) + 4y bytes. */
const attributionTable = (): void => {
  const um = fill(32, 9)
  const covered = fill(156, 3)
  table(
    "20 attribution HMACs of one node (per node)",
    ["noble keyed", "createHmac"],
    [0, 292].map((packetLength) => {
      const packet = fill(packetLength, 5)
      return [
        packetLength === 0 ? "success" : `${packetLength} B packet`,
        [
          make("noble keyed", () => {
            const keyed = hmac.create(nobleSha256, um)
            if (packet.length > 0) keyed.update(packet)
            const work = keyed.clone()
            const out = new Uint8Array(32)
            for (let y = 0; y < 20; y++) {
              keyed._cloneInto(work)
              work.update(covered.subarray(0, 8 * y + 4)).digestInto(out)
            }
            return out
          }),
          make("createHmac", () => {
            let out = new Uint8Array(32)
            for (let y = 0; y < 20; y++) out = createHmac("sha256", um).update(packet).update(covered.subarray(0, 8 * y + 4)).digest()
            return out
          })
        ]
      ] as const
    })
  )
}

const streamTable = (): void => {
  const head = fill(21, 4)
  table(
    "stream: a 21-byte head and a message per update pair",
    ["noble", "OpenSSL", "platform"],
    [40, 150, 400, 1366].map((n) => {
      const message = fill(n, n)
      const nobleStream = nobleSha256.create()
      const opensslStream = createHash("sha256")
      const platformStream = platform.createSha256()
      return [
        `${n} B`,
        [
          make("noble", () => {
            nobleStream.update(head)
            nobleStream.update(message)
            return head
          }),
          make("OpenSSL", () => {
            opensslStream.update(head)
            opensslStream.update(message)
            return head
          }),
          make("platform", () => {
            platformStream.update(head)
            platformStream.update(message)
            return head
          })
        ]
      ] as const
    })
  )
}

export const run = async (): Promise<void> => {
  sha256Table()
  concatTable()
  hmacTable()
  attributionTable()
  streamTable()
  if (sink === 256) console.log("")
}
