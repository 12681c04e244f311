/**
 * secp256k1 operations per second with each backend in one run: native libsecp256k1 (the
 * `secp256k1` package's addon), libsecp256k1 in WASM (tiny-secp256k1) and noble (pure JS). Also
 * the BOLT 3 key derivation of one commitment (`deriveCommitmentKeys`: one revocation key and
 * three tweaked keys), which is made of these operations. Prints which backend production picks.
 *
 * Run: `node bench/run.ts secp256k1` (or `npm run bench -- secp256k1`).
 */
import { Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { loadSecp256k1Best } from "../src/layers/crypto/secp256k1-best.ts"
import { loadNativeSecp256k1 } from "../src/layers/crypto/secp256k1-native.ts"
import { wasmSecp256k1 } from "../src/layers/crypto/secp256k1-wasm.ts"
import { nobleSecp256k1, type Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import { deriveCommitmentKeys, type ChannelBasepoints } from "../src/protocol/keys/commitment-keys.ts"
import { unsafePublicKey } from "../src/protocol/keys/keys.ts"

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const K = 64

/** Repeats `f` for at least `minMs`, after a warm-up; operations per second. */
const measure = (f: (i: number) => void, minMs: number): number => {
  for (let i = 0; i < 20; i++) f(i)
  let iterations = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < minMs) {
    for (let j = 0; j < 10; j++) f(iterations++)
    elapsed = performance.now() - start
  }
  return (iterations * 1000) / elapsed
}

const at = <A>(xs: ReadonlyArray<A>, i: number): A => {
  const x = xs[i % xs.length]
  if (x === undefined) throw new Error("unreachable")
  return x
}

const must = <A>(a: A | undefined): A => {
  if (a === undefined) throw new Error("unexpected undefined")
  return a
}

/** Inputs computed once with noble, so every backend works on the same bytes. */
const secrets = Array.from({ length: K }, (_, i) => sha256(enc(`bench/secp/secret/${i}`)))
const tweaks = Array.from({ length: K }, (_, i) => sha256(enc(`bench/secp/tweak/${i}`)))
const digests = Array.from({ length: K }, (_, i) => sha256(enc(`bench/secp/digest/${i}`)))
const points = secrets.map((s) => must(nobleSecp256k1.publicKey(s)))
const signatures = digests.map((d, i) => nobleSecp256k1.signRecoverable(d, at(secrets, i)))
const basepoints = (i: number): ChannelBasepoints => ({
  fundingPubkey: unsafePublicKey(at(points, i)),
  revocationBasepoint: unsafePublicKey(at(points, i + 1)),
  paymentBasepoint: unsafePublicKey(at(points, i + 2)),
  delayedPaymentBasepoint: unsafePublicKey(at(points, i + 3)),
  htlcBasepoint: unsafePublicKey(at(points, i + 4))
})

const ops: ReadonlyArray<{ readonly label: string; readonly op: (secp: Secp256k1) => (i: number) => void }> = [
  { label: "ECDSA verify", op: (secp) => (i) => void (secp.verify(at(signatures, i).signature, at(digests, i), at(points, i)) || fail("verify")) },
  { label: "ECDSA sign (RFC 6979)", op: (secp) => (i) => void secp.sign(at(digests, i), at(secrets, i)) },
  { label: "ECDH (BOLT 8: SHA256 of the shared point)", op: (secp) => (i) => void must(secp.ecdh(at(secrets, i), at(points, i + 1))) },
  { label: "public key of a secret (k*G)", op: (secp) => (i) => void must(secp.publicKey(at(secrets, i))) },
  { label: "public-key tweak add (P + t*G)", op: (secp) => (i) => void must(secp.pointTweakAdd(at(points, i), at(tweaks, i))) },
  { label: "public-key tweak mul (t*P)", op: (secp) => (i) => void must(secp.pointMultiply(at(points, i), at(tweaks, i))) },
  { label: "point add (P + Q)", op: (secp) => (i) => void must(secp.pointAdd(at(points, i), at(points, i + 1))) },
  { label: "private-key tweak add", op: (secp) => (i) => void must(secp.secretAdd(at(secrets, i), at(tweaks, i))) },
  { label: "private-key tweak mul", op: (secp) => (i) => void must(secp.secretMultiply(at(secrets, i), at(tweaks, i))) },
  {
    label: "recover (BOLT 11 payee)",
    op: (secp) => (i) => {
      const s = at(signatures, i)
      must(secp.recover(s.signature, s.recovery, at(digests, i)))
    }
  },
  {
    label: "BOLT 3 commitment keys (deriveCommitmentKeys)",
    op: (secp) => (i) => {
      if (Result.isFailure(deriveCommitmentKeys(secp, basepoints(i), basepoints(i + 5), unsafePublicKey(at(points, i + 10))))) fail("derive")
    }
  }
]

const fail = (what: string): never => {
  throw new Error(`${what} failed`)
}

const cell = (n: number | undefined): string => (n === undefined ? "-" : n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1)).padStart(12)

/**
 * Each figure is the best of two rounds; the backends are measured in turn for every row, so
 * that load from other processes skews them alike.
 */
export async function run(): Promise<void> {
  const native = loadNativeSecp256k1()
  const best = await loadSecp256k1Best()
  const backends: ReadonlyArray<Secp256k1 | undefined> = [Result.isSuccess(native) ? native.success : undefined, wasmSecp256k1, nobleSecp256k1]
  console.log(`production pick: ${best.backend}${best.unavailable.map((u) => ` (${u.backend} unavailable: ${u.reason})`).join("")}`)
  if (Result.isFailure(native)) console.log(`native unavailable here: ${native.failure}`)
  console.log("operations per second")
  console.log(`${"operation".padEnd(48)}${"native".padStart(12)}${"wasm".padStart(12)}${"noble".padStart(12)}${"native/wasm".padStart(13)}`)
  for (const { label, op } of ops) {
    const figures: Array<number | undefined> = backends.map(() => undefined)
    for (let round = 0; round < 2; round++) {
      backends.forEach((secp, i) => {
        if (secp === undefined) return
        const minMs = secp === nobleSecp256k1 ? 300 : 500
        figures[i] = Math.max(figures[i] ?? 0, measure(op(secp), minMs))
      })
    }
    const [n, w] = figures
    const ratio = n === undefined || w === undefined ? "-" : `${(n / w).toFixed(1)}x`
    console.log(`${label.padEnd(48)}${figures.map(cell).join("")}${ratio.padStart(13)}`)
  }
}
