import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect } from "effect"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { InvalidNodeSecret, makeNodeSigner } from "../../src/layers/InMemoryNodeSigner.ts"
import { ecdhNowOf } from "../../src/services/NodeSigner.ts"

describe("in-memory NodeSigner", () => {
  it.effect("keeps its own copy of the secret: the caller may wipe theirs at once", () =>
    Effect.gen(function*() {
      const secret = sha256(new TextEncoder().encode("wipe me"))
      const expectedId = toHex(nobleSecp256k1.publicKey(secret) ?? new Uint8Array())
      const signer = makeNodeSigner(secret)
      secret.fill(0)
      assert.strictEqual(toHex(signer.nodeId), expectedId)
      const digest = sha256(new TextEncoder().encode("after the wipe"))
      assert.isTrue(nobleSecp256k1.verify(yield* signer.signDigest(digest), digest, signer.nodeId))
    }))

  it.effect("bad input is a typed failure", () =>
    Effect.gen(function*() {
      const signer = makeNodeSigner(sha256(new TextEncoder().encode("carol")))
      const notAPoint = new Uint8Array(33).fill(7)
      assert.strictEqual((yield* Effect.flip(signer.ecdh(notAPoint)))._tag, "InvalidPoint")
      assert.strictEqual((yield* Effect.flip(signer.ecdh(new Uint8Array(0))))._tag, "InvalidPoint")
      const short = yield* Effect.flip(signer.signDigest(new Uint8Array(31)))
      assert.deepStrictEqual([short._tag, short.length], ["InvalidDigest", 31])
      assert.strictEqual((yield* Effect.flip(signer.signDigestRecoverable(new Uint8Array(33))))._tag, "InvalidDigest")
    }))

  it.effect("declares its ECDH at once (ecdhNowOf): the same secret as `ecdh`, undefined where it fails; a wrapper inherits none", () =>
    Effect.gen(function*() {
      const signer = makeNodeSigner(sha256(new TextEncoder().encode("dave")))
      const ecdhNow = ecdhNowOf(signer)
      assert.isDefined(ecdhNow)
      if (ecdhNow === undefined) return
      for (const seed of ["a", "b", "c"]) {
        const point = nobleSecp256k1.publicKey(sha256(new TextEncoder().encode(seed))) ?? new Uint8Array(0)
        assert.strictEqual(toHex(ecdhNow(point) ?? new Uint8Array(0)), toHex(yield* signer.ecdh(point)))
      }
      assert.isUndefined(ecdhNow(new Uint8Array(33).fill(7)))
      assert.isUndefined(ecdhNow(new Uint8Array(0)))
      assert.isUndefined(ecdhNowOf({ ...signer }))
    }))

  it("an invalid secret (zero, the group order, wrong length) is refused with InvalidNodeSecret", () => {
    const order = fromHex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
    for (const secret of [new Uint8Array(32), order, new Uint8Array(31).fill(1)]) {
      assert.throws(() => makeNodeSigner(secret), InvalidNodeSecret)
    }
  })
})
