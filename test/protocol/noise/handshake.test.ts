/**
 * BOLT 8 Appendix A handshake vectors (5 initiator, 10 responder cases, failures included),
 * each run with every ChaCha20-Poly1305 implementation and every secp256k1 backend (noble, WASM,
 * native), plus property tests: arbitrary bytes as
 * any act give a typed error or a value and never throw; two honest parties always agree.
 */
import { Result } from "effect"
import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import vectors from "../../vectors/bolt08-transport.json" with { type: "json" }
import { nodeChaChaPoly, opensslChaChaPoly } from "../../../src/layers/crypto/aead-node.ts"
import { loadSodium, sodiumChaChaPoly } from "../../../src/layers/crypto/aead-sodium.ts"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { nobleChaChaPoly } from "../../../src/protocol/crypto/aead.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import {
  initiatorActOne,
  initiatorActThree,
  initiatorActTwo,
  responderActOne,
  responderActThree,
  responderActTwo,
  responderStart,
  type HandshakeError,
  type NoiseCrypto
} from "../../../src/protocol/noise/index.ts"
import { secp256k1Backends } from "../../layers/crypto/backends.ts"

const secp = nobleSecp256k1
// The portable (noble) and the fast (node: libsodium for short inputs, OpenSSL for long) implementations,
// and each of the fast one's two engines on its own, run every vector, each with every secp256k1 backend.
const cryptos: ReadonlyArray<NoiseCrypto> = secp256k1Backends.flatMap((ec) =>
  [nobleChaChaPoly, nodeChaChaPoly, opensslChaChaPoly, sodiumChaChaPoly].map((aead) => ({ secp: ec, aead }))
)

/** The spec's error names (`error` field of the vectors) for our typed errors. */
const specName = (e: HandshakeError): string => {
  switch (e._tag) {
    case "NoiseActLengthInvalid":
      return `ACT${e.act}_READ_FAILED`
    case "NoiseActVersionUnknown":
      return `ACT${e.act}_BAD_VERSION`
    case "NoiseActPublicKeyInvalid":
      return `ACT${e.act}_BAD_PUBKEY`
    case "NoiseActMacInvalid":
      return e.part === "tag" ? `ACT${e.act}_BAD_TAG` : `ACT${e.act}_BAD_CIPHERTEXT`
    default:
      return e._tag
  }
}

/** ECDH with the node secret, as the signer service would do it. */
const signerEcdh = (secret: Uint8Array, point: Uint8Array, ec: Secp256k1 = secp): Uint8Array => {
  const ss = ec.ecdh(secret, point)
  if (ss === undefined) throw new Error("signer ECDH failed")
  return ss
}

type Outcome =
  | { readonly _tag: "error"; readonly act: string; readonly error: string }
  | { readonly _tag: "done"; readonly acts: Record<string, string>; readonly sk: string; readonly rk: string; readonly remote: string }

type InitiatorVector = (typeof vectors.initiator_tests)[number]
type ResponderVector = (typeof vectors.responder_tests)[number]

const runInitiator = (crypto: NoiseCrypto, v: InitiatorVector): Outcome => {
  const acts: Record<string, string> = {}
  const one = initiatorActOne(crypto, {
    localStatic: fromHex(v.ls_pub),
    remoteStatic: fromHex(v.rs_pub),
    ephemeralSecret: fromHex(v.e_priv)
  })
  if (Result.isFailure(one)) return { _tag: "error", act: "act_one", error: specName(one.failure) }
  acts["act_one"] = toHex(one.success.act)
  const two = initiatorActTwo(crypto, one.success.state, fromHex(v.act_two.input))
  if (Result.isFailure(two)) return { _tag: "error", act: "act_two", error: specName(two.failure) }
  const three = initiatorActThree(crypto, two.success, signerEcdh(fromHex(v.ls_priv), two.success.point, crypto.secp))
  if (Result.isFailure(three)) return { _tag: "error", act: "act_three", error: specName(three.failure) }
  acts["act_three"] = toHex(three.success.act)
  const s = three.success.session
  return { _tag: "done", acts, sk: toHex(s.send.key), rk: toHex(s.receive.key), remote: toHex(s.remoteStatic) }
}

const runResponder = (crypto: NoiseCrypto, v: ResponderVector): Outcome => {
  const acts: Record<string, string> = {}
  const start = responderStart(crypto, { localStatic: fromHex(v.ls_pub), ephemeralSecret: fromHex(v.e_priv) })
  if (Result.isFailure(start)) return { _tag: "error", act: "start", error: specName(start.failure) }
  const one = responderActOne(crypto, start.success, fromHex(v.act_one.input))
  if (Result.isFailure(one)) return { _tag: "error", act: "act_one", error: specName(one.failure) }
  const two = responderActTwo(crypto, one.success, signerEcdh(fromHex(v.ls_priv), one.success.point, crypto.secp))
  if (Result.isFailure(two)) return { _tag: "error", act: "act_one", error: specName(two.failure) }
  acts["act_two"] = toHex(two.success.act)
  if (v.act_three === undefined) throw new Error(`vector ${v.name} has no act three`)
  const three = responderActThree(crypto, two.success.state, fromHex(v.act_three.input))
  if (Result.isFailure(three)) return { _tag: "error", act: "act_three", error: specName(three.failure) }
  const s = three.success
  return { _tag: "done", acts, sk: toHex(s.send.key), rk: toHex(s.receive.key), remote: toHex(s.remoteStatic) }
}

const initiatorStatic = vectors.initiator_tests[0]?.ls_pub ?? ""


// libsodium loads lazily: load it so that its calls are libsodium's own, not the noble fallback.
beforeAll(async () => void expect(await loadSodium()).toBe(true))
describe.each(cryptos.map((c) => [`${c.aead.name} and ${c.secp.name}`, c] as const))("BOLT 8 handshake vectors with %s", (_name, crypto) => {
  it("has every case of the spec", () => {
    expect(vectors.initiator_tests).toHaveLength(5)
    expect(vectors.responder_tests).toHaveLength(10)
  })

  it.each(vectors.initiator_tests.map((v) => [v.name, v] as const))("%s", (_n, v) => {
    const out = runInitiator(crypto, v)
    if ("error" in v) {
      expect(out).toEqual({ _tag: "error", act: v.error_act, error: v.error })
    } else {
      if (out._tag !== "done") throw new Error(`expected success, got ${out.error} in ${out.act}`)
      expect(out.acts["act_one"]).toBe(v.act_one.output)
      expect(out.acts["act_three"]).toBe(v.act_three?.output)
      expect(out.sk).toBe(v.final?.sk)
      expect(out.rk).toBe(v.final?.rk)
      expect(out.remote).toBe(v.rs_pub)
    }
  })

  it.each(vectors.responder_tests.map((v) => [v.name, v] as const))("%s", (_n, v) => {
    const out = runResponder(crypto, v)
    if ("error" in v) {
      expect(out).toEqual({ _tag: "error", act: v.error_act, error: v.error })
    } else {
      if (out._tag !== "done") throw new Error(`expected success, got ${out.error} in ${out.act}`)
      expect(out.acts["act_two"]).toBe(v.act_two?.output)
      expect(out.sk).toBe(v.final?.sk)
      expect(out.rk).toBe(v.final?.rk)
      expect(out.remote).toBe(initiatorStatic)
    }
  })

  it("act two of a failing responder vector matches the spec where the spec lists it", () => {
    for (const v of vectors.responder_tests) {
      if (v.act_two?.output === undefined) continue
      const start = Result.getOrThrow(responderStart(crypto, { localStatic: fromHex(v.ls_pub), ephemeralSecret: fromHex(v.e_priv) }))
      const one = Result.getOrThrow(responderActOne(crypto, start, fromHex(v.act_one.input)))
      const two = Result.getOrThrow(responderActTwo(crypto, one, signerEcdh(fromHex(v.ls_priv), one.point, crypto.secp)))
      expect(toHex(two.act)).toBe(v.act_two.output)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Properties

const RUNS = 10_000
// The WASM secp256k1 keeps 10,000 runs with a real ECDH per well-formed act fast.
const crypto: NoiseCrypto = { secp: wasmSecp256k1, aead: nodeChaChaPoly }
const initV = vectors.initiator_tests[0]
const respV = vectors.responder_tests[0]
if (initV === undefined || respV === undefined) throw new Error("missing vectors")

// Fixed states right before each act is read, so every run only exercises the parser/checks.
const initiatorWaiting = Result.getOrThrow(
  initiatorActOne(crypto, { localStatic: fromHex(initV.ls_pub), remoteStatic: fromHex(initV.rs_pub), ephemeralSecret: fromHex(initV.e_priv) })
).state
const responderWaiting = Result.getOrThrow(responderStart(crypto, { localStatic: fromHex(respV.ls_pub), ephemeralSecret: fromHex(respV.e_priv) }))
const responderNeeds = Result.getOrThrow(responderActOne(crypto, responderWaiting, fromHex(respV.act_one.input)))
const responderAct3 = Result.getOrThrow(responderActTwo(crypto, responderNeeds, signerEcdh(fromHex(respV.ls_priv), responderNeeds.point))).state

const isTyped = (r: Result.Result<unknown, { readonly _tag: string }>): boolean =>
  Result.isSuccess(r) || typeof r.failure._tag === "string"

/** Mostly acts of the right length with version 0, so the deeper checks are reached too. */
const actBytes = (length: number) =>
  fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 80 }),
    fc.uint8Array({ minLength: length, maxLength: length }).map((b) => {
      b[0] = 0
      return b
    }),
    fc.uint8Array({ minLength: length - 1, maxLength: length - 1 }).map((b) => {
      const out = new Uint8Array(length)
      out.set(b, 1)
      out[1] = 2 + (b[0] ?? 0) % 2 // a plausible compressed-key prefix
      return out
    })
  )

describe("handshake on arbitrary bytes", () => {
  it("act one: responder returns a typed error or a value, never throws", () => {
    fc.assert(
      fc.property(actBytes(50), fc.uint8Array({ minLength: 32, maxLength: 32 }), (act, ss) => {
        const one = responderActOne(crypto, responderWaiting, act)
        expect(isTyped(one)).toBe(true)
        if (Result.isFailure(one)) expect(one.failure.act).toBe(1)
        else {
          // A random "shared secret" cannot authenticate a random tag.
          const two = responderActTwo(crypto, one.success, ss)
          expect(Result.isFailure(two) && two.failure).toMatchObject({ _tag: "NoiseActMacInvalid", act: 1, part: "tag" })
        }
      }),
      { numRuns: RUNS }
    )
  })

  it("act two: initiator returns a typed error or a value, never throws", () => {
    fc.assert(
      fc.property(actBytes(50), (act) => {
        const r = initiatorActTwo(crypto, initiatorWaiting, act)
        expect(isTyped(r)).toBe(true)
        // Without the responder's keys no random act two authenticates.
        expect(Result.isFailure(r) && r.failure.act).toBe(2)
      }),
      { numRuns: RUNS }
    )
  })

  it("act three: responder returns a typed error or a value, never throws", () => {
    fc.assert(
      fc.property(actBytes(66), (act) => {
        const r = responderActThree(crypto, responderAct3, act)
        expect(isTyped(r)).toBe(true)
        expect(Result.isFailure(r) && r.failure.act).toBe(3)
      }),
      { numRuns: RUNS }
    )
  })

  it("a shared secret of the wrong size is a typed error", () => {
    const two = responderActTwo(crypto, responderNeeds, new Uint8Array(31))
    expect(Result.isFailure(two) && two.failure._tag).toBe("NoiseSharedSecretInvalid")
  })

  it("invalid local keys are typed errors", () => {
    const bad = initiatorActOne(crypto, { localStatic: fromHex(initV.ls_pub), remoteStatic: new Uint8Array(33), ephemeralSecret: fromHex(initV.e_priv) })
    expect(Result.isFailure(bad) && bad.failure).toMatchObject({ _tag: "NoiseLocalKeyInvalid", key: "remote static" })
    const badE = responderStart(crypto, { localStatic: fromHex(respV.ls_pub), ephemeralSecret: new Uint8Array(32) })
    expect(Result.isFailure(badE) && badE.failure).toMatchObject({ _tag: "NoiseLocalKeyInvalid", key: "ephemeral secret" })
  })
})

describe("two honest parties", () => {
  const secretArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((s) => secp.isValidSecret(s))
  it("agree on keys and identities for random static and ephemeral keys, across cipher implementations", () => {
    fc.assert(
      fc.property(secretArb, secretArb, secretArb, secretArb, fc.boolean(), (ls, rsSecret, ie, re, flip) => {
        const a: NoiseCrypto = { secp, aead: flip ? nodeChaChaPoly : nobleChaChaPoly }
        const b: NoiseCrypto = { secp, aead: flip ? nobleChaChaPoly : nodeChaChaPoly }
        const lsPub = secp.publicKey(ls)
        const rsPub = secp.publicKey(rsSecret)
        if (lsPub === undefined || rsPub === undefined) throw new Error("valid secret has no key")
        const i1 = Result.getOrThrow(initiatorActOne(a, { localStatic: lsPub, remoteStatic: rsPub, ephemeralSecret: ie }))
        const r0 = Result.getOrThrow(responderStart(b, { localStatic: rsPub, ephemeralSecret: re }))
        const r1 = Result.getOrThrow(responderActOne(b, r0, i1.act))
        const r2 = Result.getOrThrow(responderActTwo(b, r1, signerEcdh(rsSecret, r1.point)))
        const i2 = Result.getOrThrow(initiatorActTwo(a, i1.state, r2.act))
        const i3 = Result.getOrThrow(initiatorActThree(a, i2, signerEcdh(ls, i2.point)))
        const session = Result.getOrThrow(responderActThree(b, r2.state, i3.act))
        expect(toHex(session.remoteStatic)).toBe(toHex(lsPub))
        expect(toHex(i3.session.remoteStatic)).toBe(toHex(rsPub))
        expect(toHex(session.receive.key)).toBe(toHex(i3.session.send.key))
        expect(toHex(session.send.key)).toBe(toHex(i3.session.receive.key))
        expect(toHex(session.send.chainingKey)).toBe(toHex(i3.session.receive.chainingKey))
      }),
      { numRuns: 50 }
    )
  })
})
