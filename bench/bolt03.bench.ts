/**
 * BOLT 3 throughput, portable (noble, pure JS) vs libsecp256k1 in WASM (tiny-secp256k1) vs
 * native libsecp256k1 (the `secp256k1` package's addon, where it loads):
 *
 * - commitment transactions built AND signed per second with 0, 10 and 483 HTLCs, as the
 *   channel signer does for `commitment_signed`: build the counterparty's commitment and its
 *   HTLC transactions, sign the funding input and every HTLC transaction (one signature per
 *   HTLC). The commitment's keys come from the shared cache (`commitment-keys-cache.ts`), as
 *   when the channel built the commitment first; the "keys derived" rows empty the cache before
 *   each commitment, so they include the key derivation;
 * - the receiving side: rebuild our commitment and verify the counterparty's commitment and
 *   HTLC signatures (validateHolderCommitment);
 * - raw ECDSA verifications and signatures per second.
 *
 * Run: `node bench/run.ts bolt03` (or `npm run bench -- bolt03`).
 */
import { Effect, Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
import { loadNativeSecp256k1 } from "../src/layers/crypto/secp256k1-native.ts"
import { wasmSecp256k1 } from "../src/layers/crypto/secp256k1-wasm.ts"
import { sharedCommitmentKeysCache } from "../src/protocol/keys/commitment-keys-cache.ts"
import { anchorsZeroFeeHtlcTx } from "../src/protocol/channel-type.ts"
import { nobleSecp256k1, type Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import { txidFromBytes } from "../src/protocol/tx/bitcoin/transaction.ts"
import type { CommitmentHtlc } from "../src/protocol/tx/commitment.ts"
import { msat, sat } from "../src/protocol/units.ts"
import { channelKeyId, type ChannelKeyId, type ChannelParameters, type CommitmentState } from "../src/services/ChannelSigner.ts"

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const FUNDING_SAT = 100_000_000n
const HTLC_SAT = 50_000n
const FEERATE = 2_500

interface Measure {
  readonly perSecond: number
  readonly iterations: number
}

/** Repeats `f` for at least `minMs` and `minIterations`, after one warm-up call. */
const measure = (f: () => void, minMs = 1_000, minIterations = 3): Measure => {
  f()
  let iterations = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < minMs || iterations < minIterations) {
    f()
    iterations++
    elapsed = performance.now() - start
  }
  return { perSecond: (iterations * 1000) / elapsed, iterations }
}

const stateWith = (owner: "alice" | "bob", htlcCount: number, commitmentNumber: bigint): CommitmentState => {
  const htlcs: Array<CommitmentHtlc> = []
  for (let i = 0; i < htlcCount; i++) {
    htlcs.push({
      // Alice offers the even ones, Bob the odd ones.
      direction: (i % 2 === 0) === (owner === "alice") ? "offered" : "received",
      amount: msat(HTLC_SAT * 1000n),
      paymentHash: sha256(enc(`bench/htlc/${i}`)),
      cltvExpiry: 800_000 + i
    })
  }
  const rest = FUNDING_SAT * 1000n - BigInt(htlcCount) * HTLC_SAT * 1000n
  const alice = rest / 2n
  const bob = rest - alice
  return {
    commitmentNumber,
    feeratePerKw: FEERATE,
    toLocal: msat(owner === "alice" ? alice : bob),
    toRemote: msat(owner === "alice" ? bob : alice),
    htlcs
  }
}

const setup = (secp: Secp256k1) => {
  const keyId = (name: string): ChannelKeyId => {
    const id = channelKeyId(sha256(enc(`bench/${name}/key-id`)))
    if (id === undefined) throw new Error("unreachable")
    return id
  }
  const alice = { signer: makeSeedChannelSigner(sha256(enc("bench/alice")), secp), keyId: keyId("alice") }
  const bob = { signer: makeSeedChannelSigner(sha256(enc("bench/bob")), secp), keyId: keyId("bob") }
  const aliceKeys = Effect.runSync(alice.signer.channelPublicKeys(alice.keyId))
  const bobKeys = Effect.runSync(bob.signer.channelPublicKeys(bob.keyId))
  const common = {
    channelType: anchorsZeroFeeHtlcTx,
    fundingOutpoint: { txid: txidFromBytes(sha256(enc("bench/funding"))), vout: 0 },
    fundingAmount: sat(FUNDING_SAT),
    holderDustLimit: sat(354n),
    counterpartyDustLimit: sat(354n),
    holderSelfDelay: 144,
    counterpartySelfDelay: 144
  }
  const aliceParams: ChannelParameters = { ...common, holderIsFunder: true, counterpartyBasepoints: bobKeys }
  const bobParams: ChannelParameters = { ...common, holderIsFunder: false, counterpartyBasepoints: aliceKeys }
  Effect.runSync(alice.signer.readyChannel(alice.keyId, aliceParams))
  Effect.runSync(bob.signer.readyChannel(bob.keyId, bobParams))
  // The signer signs counterparty commitments in order: one commitment number per HTLC count.
  const bobPoints = [42n, 43n, 44n].map((n) => Effect.runSync(bob.signer.perCommitmentPoint(bob.keyId, n)))
  return { alice, bob, bobPoints }
}

const pointAt = <A>(points: ReadonlyArray<A>, i: number): A => {
  const p = points[i]
  if (p === undefined) throw new Error("unreachable")
  return p
}

const cell = (n: number): string => n.toFixed(n < 10 ? 2 : 0).padStart(12)

/**
 * Each figure is the best of two rounds, and the implementations are measured in turn for
 * every row (noble, wasm, native, noble, ...), so that load from other processes skews them alike.
 */
export async function run(): Promise<void> {
  const native = loadNativeSecp256k1()
  const impls: ReadonlyArray<Secp256k1> = Result.isSuccess(native) ? [nobleSecp256k1, wasmSecp256k1, native.success] : [nobleSecp256k1, wasmSecp256k1]
  const contexts = impls.map((secp) => {
    const { alice, bob, bobPoints } = setup(secp)
    const secret = sha256(enc("bench/secret"))
    const pub = secp.publicKey(secret)
    if (pub === undefined) throw new Error("unreachable")
    const digests = Array.from({ length: 64 }, (_, k) => sha256(enc(`bench/digest/${k}`)))
    return { secp, alice, bob, bobPoints, secret, pub, digests, sigs: digests.map((d) => secp.sign(d, secret)) }
  })
  type Ctx = (typeof contexts)[number]
  const rows: Array<{ readonly label: string; readonly minMs: number; readonly op: (c: Ctx) => () => void }> = []
  for (const [i, n] of [0, 10, 483].entries()) {
    const theirState = stateWith("bob", n, 42n + BigInt(i))
    const minMs = n === 483 ? 2_000 : 1_000
    // Alice signs Bob's commitment: build + funding signature + n HTLC signatures.
    rows.push({
      label: `build + sign commitment, ${n} HTLCs (${n + 1} sigs)`,
      minMs,
      op: (c) => () => {
        const sigs = Effect.runSync(c.alice.signer.signCounterpartyCommitment(c.alice.keyId, theirState, pointAt(c.bobPoints, i)))
        if (sigs.htlcSignatures.length !== n) throw new Error(`expected ${n} HTLC signatures`)
      }
    })
    if (n < 483) {
      rows.push({
        label: `  the same, keys derived (cache emptied)`,
        minMs,
        op: (c) => () => {
          sharedCommitmentKeysCache.clear()
          const sigs = Effect.runSync(c.alice.signer.signCounterpartyCommitment(c.alice.keyId, theirState, pointAt(c.bobPoints, i)))
          if (sigs.htlcSignatures.length !== n) throw new Error(`expected ${n} HTLC signatures`)
        }
      })
    }
    // Bob rebuilds his commitment and verifies all n + 1 signatures.
    rows.push({
      label: `build + verify commitment, ${n} HTLCs (${n + 1} sigs)`,
      minMs,
      op: (c) => {
        const sigs = Effect.runSync(c.alice.signer.signCounterpartyCommitment(c.alice.keyId, theirState, pointAt(c.bobPoints, i)))
        const validate = () => Effect.runSync(c.bob.signer.validateHolderCommitment(c.bob.keyId, theirState, sigs.signature, sigs.htlcSignatures))
        // The signer holds at most two unrevoked commitments: revoke the previous row's one.
        validate()
        if (i > 0) Effect.runSync(c.bob.signer.releaseCommitmentSecret(c.bob.keyId, theirState.commitmentNumber - 1n))
        return validate
      }
    })
  }
  let k = 0
  rows.push({
    label: "ECDSA verify (single signature)",
    minMs: 500,
    op: (c) => () => {
      const j = k++ % c.digests.length
      if (!c.secp.verify(c.sigs[j] ?? new Uint8Array(), c.digests[j] ?? new Uint8Array(), c.pub)) throw new Error("verify failed")
    }
  })
  rows.push({
    label: "ECDSA sign (RFC 6979, single signature)",
    minMs: 500,
    op: (c) => () => {
      c.secp.sign(c.digests[k++ % c.digests.length] ?? new Uint8Array(), c.secret)
    }
  })

  console.log(`anchors_zero_fee_htlc_tx channel, feerate ${FEERATE} sat/kw; figures are operations per second`)
  if (Result.isFailure(native)) console.log(`native secp256k1 unavailable here: ${native.failure}`)
  console.log(`${"operation".padEnd(52)}${contexts.map((c) => c.secp.name.replace("libsecp256k1-", "").padStart(12)).join("")}`)
  for (const r of rows) {
    const best = contexts.map(() => 0)
    for (let round = 0; round < 2; round++) {
      contexts.forEach((c, i) => {
        best[i] = Math.max(best[i] ?? 0, measure(r.op(c), r.minMs).perSecond)
      })
    }
    console.log(`${r.label.padEnd(52)}${best.map(cell).join("")}`)
  }
}
