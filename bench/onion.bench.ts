/**
 * BOLT 4 payment onions: onions built per second and layers peeled per second, for routes of
 * 5 and 20 hops, with the portable secp256k1 (noble, pure JS) and libsecp256k1 (WASM).
 *  - build: `buildPaymentOnion` with typed TLV hop payloads (~60-byte payloads for 5 hops,
 *    ~25-byte for 20, so both fill a realistic part of the 1300 bytes);
 *  - peel: `processPaymentOnion` at one hop (ECDH, HMAC, ChaCha20 over 2600 bytes, payload
 *    decoding and checks, next ephemeral key); a whole route costs hops x one peel;
 *  - failure: the origin decrypting a failure returned by the last hop with attribution data.
 * Time is this process's CPU time, best of several rounds.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { wasmSecp256k1 } from "../src/layers/crypto/secp256k1-wasm.ts"
import { loadNativeSecp256k1 } from "../src/layers/crypto/secp256k1-native.ts"
import type { ShortChannelId } from "../src/protocol/codec/index.ts"
import { nobleSecp256k1, type Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import {
  buildPaymentOnion,
  createFailure,
  decryptFailure,
  ecdhWithSecret,
  forwardFailure,
  type PaymentHop,
  processPaymentOnion
} from "../src/protocol/onion/index.ts"
import { msat } from "../src/protocol/units.ts"

const ROUNDS = 4
const ROUND_MS = 500

const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Operations per CPU second, best of ROUNDS. */
const rate = (op: () => void): number => {
  let best = 0
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0
    const start = cpuMs()
    let now = start
    while (now - start < ROUND_MS) {
      op()
      n++
      now = cpuMs()
    }
    best = Math.max(best, (n * 1000) / (now - start))
  }
  return best
}

const secretOf = (label: string) => sha256(new TextEncoder().encode(label))

const route = (secp: Secp256k1, hops: number) => {
  const secrets = Array.from({ length: hops }, (_, i) => secretOf(`bench node ${i}`))
  const metadata = new Uint8Array(hops === 5 ? 30 : 0).fill(1)
  const path: Array<PaymentHop> = secrets.map((s, i) => ({
    publicKey: secp.publicKey(s) ?? new Uint8Array(33),
    payload: i === hops - 1
      ? { amtToForward: msat(100_000n), outgoingCltvValue: 800_000, paymentData: { paymentSecret: secretOf("secret"), totalMsat: msat(100_000n) }, paymentMetadata: metadata }
      : { amtToForward: msat(100_000n + BigInt(hops - i)), outgoingCltvValue: 800_000 + 40 * (hops - i), shortChannelId: BigInt(i + 1) as ShortChannelId, ...(hops === 5 ? { customRecords: [{ type: 70000n, value: new Uint8Array(28) }] } : {}) }
  }))
  return { secrets, path }
}

export async function run(): Promise<void> {
  const paymentHash = secretOf("hash")
  const sessionKey = secretOf("session")
  const rows: Array<Record<string, string>> = []
  const native = loadNativeSecp256k1()
  for (const secp of Result.isSuccess(native) ? [nobleSecp256k1, wasmSecp256k1, native.success] : [nobleSecp256k1, wasmSecp256k1]) {
    for (const hops of [5, 20]) {
      const { secrets, path } = route(secp, hops)
      const built = buildPaymentOnion(secp, sessionKey, path, paymentHash)
      if (Result.isFailure(built)) throw new Error(built.failure._tag)
      const onion = built.success.onion
      const ecdh = ecdhWithSecret(secp, secrets[0] ?? new Uint8Array(32))
      const check = processPaymentOnion(secp, ecdh, { onion, paymentHash, amountMsat: msat(200_000n), cltvExpiry: 900_000 })
      if (Result.isFailure(check)) throw new Error(check.failure.reason._tag)
      const buildRate = rate(() => void buildPaymentOnion(secp, sessionKey, path, paymentHash))
      const peelRate = rate(() => void processPaymentOnion(secp, ecdh, { onion, paymentHash, amountMsat: msat(200_000n), cltvExpiry: 900_000 }))
      const ss = built.success.sharedSecrets
      let failure = createFailure(ss[hops - 1] ?? new Uint8Array(32), { _tag: "incorrect_or_unknown_payment_details", htlcMsat: msat(100_000n), height: 800_000 }, 1)
      for (let i = hops - 2; i >= 0; i--) failure = forwardFailure(ss[i] ?? new Uint8Array(32), failure, 1)
      const failRate = rate(() => void decryptFailure(ss, failure.reason, failure.attributionData))
      rows.push({
        secp256k1: secp.name,
        hops: String(hops),
        "onions built/s": buildRate.toFixed(0),
        "layers peeled/s": peelRate.toFixed(0),
        "full routes peeled/s": (peelRate / hops).toFixed(0),
        "failures decrypted/s": failRate.toFixed(0)
      })
    }
  }
  console.table(rows)
}
