import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { NodeSigner } from "../../../src/services/NodeSigner.ts"
import { makeNodeSigner, secretFromSeed } from "../../../src/layers/test/SeededNodeSigner.ts"
import * as SeededNodeSigner from "../../../src/layers/test/SeededNodeSigner.ts"

describe("seeded NodeSigner", () => {
  it.effect("node id, ECDH and signatures agree with the secret the seed stands for", () =>
    Effect.gen(function*() {
      const signer = yield* NodeSigner
      const secret = secretFromSeed("alice")
      assert.strictEqual(toHex(signer.nodeId), toHex(nobleSecp256k1.publicKey(secret) ?? new Uint8Array()))
      // ECDH is symmetric: ECDH(a, B) = ECDH(b, A)
      const other = secretFromSeed("bob")
      const otherPub = nobleSecp256k1.publicKey(other) ?? new Uint8Array()
      const shared = yield* signer.ecdh(otherPub)
      assert.strictEqual(toHex(shared), toHex(nobleSecp256k1.ecdh(other, signer.nodeId) ?? new Uint8Array()))
      const digest = sha256(new TextEncoder().encode("hello"))
      const sig = yield* signer.signDigest(digest)
      assert.isTrue(nobleSecp256k1.verify(sig, digest, signer.nodeId))
      const rec = yield* signer.signDigestRecoverable(digest)
      assert.strictEqual(toHex(nobleSecp256k1.recover(rec.signature, rec.recovery, digest) ?? new Uint8Array()), toHex(signer.nodeId))
    }).pipe(Effect.provide(SeededNodeSigner.layer("alice"))))

  it("each seed stands for one node id; the layer is the signer over that secret", () => {
    const carol = makeNodeSigner(secretFromSeed("carol"))
    assert.strictEqual(toHex(carol.nodeId), toHex(makeNodeSigner(secretFromSeed("carol")).nodeId))
    assert.notStrictEqual(toHex(carol.nodeId), toHex(makeNodeSigner(secretFromSeed("dave")).nodeId))
    assert.strictEqual(toHex(secretFromSeed(new TextEncoder().encode("carol"))), toHex(secretFromSeed("carol")))
  })
})
