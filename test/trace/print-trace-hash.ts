/** `node test/trace/print-trace-hash.ts SEED`: prints the SHA-256 of the frozen two-node trace of SEED (for the cross-process check). */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect } from "effect"
import { toHex } from "../../src/protocol/bytes.ts"
import { encodeTraceLine } from "../../src/services/Trace.ts"
import { recordPair } from "./harness.ts"

export const traceHash = (seed: string) =>
  Effect.map(recordPair(seed, { frozen: true }), (t) => toHex(sha256(new TextEncoder().encode(t.map(encodeTraceLine).join("\n")))))

if (process.argv[1]?.endsWith("print-trace-hash.ts") === true) {
  Effect.runPromise(traceHash(process.argv[2] ?? "")).then((h) => console.log(h))
}
