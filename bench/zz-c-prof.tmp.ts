import { Effect, Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
import { loadNativeSecp256k1 } from "../src/layers/crypto/secp256k1-native.ts"
import { wasmSecp256k1 } from "../src/layers/crypto/secp256k1-wasm.ts"
import { anchorsZeroFeeHtlcTx } from "../src/protocol/channel-type.ts"
import { txidFromBytes } from "../src/protocol/tx/bitcoin/transaction.ts"
import { msat, sat } from "../src/protocol/units.ts"
import { channelKeyId, type ChannelParameters } from "../src/services/ChannelSigner.ts"
import { sharedCommitmentKeysCache } from "../src/protocol/keys/commitment-keys-cache.ts"
const enc = (s: string) => new TextEncoder().encode(s)
const secp = process.argv[2] === "wasm" ? wasmSecp256k1 : Result.getOrThrow(loadNativeSecp256k1())
const kid = (n: string) => channelKeyId(sha256(enc(n)))!
const alice = makeSeedChannelSigner(sha256(enc("a")), secp), bob = makeSeedChannelSigner(sha256(enc("b")), secp)
const ak = kid("a"), bk = kid("b")
const A = Effect.runSync(alice.channelPublicKeys(ak)), B = Effect.runSync(bob.channelPublicKeys(bk))
const common = { channelType: anchorsZeroFeeHtlcTx, fundingOutpoint: { txid: txidFromBytes(sha256(enc("f"))), vout: 0 }, fundingAmount: sat(100_000_000n), holderDustLimit: sat(354n), counterpartyDustLimit: sat(354n), holderSelfDelay: 144, counterpartySelfDelay: 144 }
Effect.runSync(alice.readyChannel(ak, { ...common, holderIsFunder: true, counterpartyBasepoints: B } as ChannelParameters))
const pt = Effect.runSync(bob.perCommitmentPoint(bk, 42n))
const state = { commitmentNumber: 42n, feeratePerKw: 2500, toLocal: msat(50_000_000_000n), toRemote: msat(50_000_000_000n), htlcs: [] }
const t = (name: string, f: () => void, ms = 1500) => { f(); let n = 0; const st = performance.now(); while (performance.now() - st < ms) { f(); n++ } console.log(name.padEnd(30), (n * 1000 / (performance.now() - st)).toFixed(0), "/s") }
t("sign warm", () => Effect.runSync(alice.signCounterpartyCommitment(ak, state, pt)))
t("sign cold", () => { sharedCommitmentKeysCache.clear(); Effect.runSync(alice.signCounterpartyCommitment(ak, state, pt)) })
t("perCommitmentPoint", () => Effect.runSync(bob.perCommitmentPoint(bk, 42n)))
