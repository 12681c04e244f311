/**
 * `signChannelAnnouncement` (BOLT 7 `channel_announcement`): the signer signs the double-SHA256
 * of the message after its four signatures, with the channel's funding key, and only when the
 * announcement names that key (and, once registered, the counterparty's) as the bitcoin keys.
 */
import { describe, expect, it } from "vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { compareBytes, concatBytes } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1 as secp } from "../../../src/protocol/crypto/secp256k1.ts"
import { anchorsZeroFeeHtlcTx } from "../../../src/protocol/channel-type.ts"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { channelKeyId } from "../../../src/services/ChannelSigner.ts"
import { failureTag, must, openChannel } from "./fixture.ts"

const bytes = (label: string, n: number): Uint8Array => sha256(new TextEncoder().encode(label)).slice(0, n)

/** The announcement after its signatures: len, features, chain hash, scid, node ids, bitcoin keys (sorted by node id). */
const unsignedAnnouncement = (features: Uint8Array, key1: Uint8Array, key2: Uint8Array, extra: Uint8Array = new Uint8Array(0)): Uint8Array => {
  const node1 = secp.publicKey(bytes("node 1", 32)) ?? new Uint8Array(33)
  const node2 = secp.publicKey(bytes("node 2", 32)) ?? new Uint8Array(33)
  const [n1, n2] = compareBytes(node1, node2) < 0 ? [node1, node2] : [node2, node1]
  return concatBytes(Uint8Array.of(features.length >> 8, features.length & 0xff), features, bytes("chain", 32), bytes("scid", 8), n1, n2, key1, key2, extra)
}

const hash256 = (b: Uint8Array): Uint8Array => sha256(sha256(b))

describe("signChannelAnnouncement", () => {
  const ch = openChannel(anchorsZeroFeeHtlcTx, secp)
  const alice = ch.alice
  const bob = ch.bob

  it("signs the double-SHA256 of the unsigned part with the funding key, as bitcoin_key_1 or bitcoin_key_2", () => {
    for (const features of [new Uint8Array(0), Uint8Array.of(0x01, 0x02, 0x03)]) {
      for (const [k1, k2] of [
        [alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey],
        [bob.basepoints.fundingPubkey, alice.basepoints.fundingPubkey]
      ] as const) {
        const unsigned = unsignedAnnouncement(features, k1, k2, Uint8Array.of(9, 9))
        const sigA = must(alice.signer.signChannelAnnouncement(alice.keyId, unsigned))
        const sigB = must(bob.signer.signChannelAnnouncement(bob.keyId, unsigned))
        expect(secp.verify(sigA, hash256(unsigned), alice.basepoints.fundingPubkey)).toBe(true)
        expect(secp.verify(sigB, hash256(unsigned), bob.basepoints.fundingPubkey)).toBe(true)
        expect(secp.verify(sigA, sha256(unsigned), alice.basepoints.fundingPubkey)).toBe(false)
      }
    }
  })

  it("refuses an announcement without our funding key, with a stranger's key, or too short", () => {
    const stranger = secp.publicKey(bytes("stranger", 32)) ?? new Uint8Array(33)
    const cases = [
      unsignedAnnouncement(new Uint8Array(0), bob.basepoints.fundingPubkey, stranger),
      unsignedAnnouncement(new Uint8Array(0), alice.basepoints.fundingPubkey, stranger),
      unsignedAnnouncement(new Uint8Array(0), alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey).subarray(0, 2 + 32 + 8 + 4 * 33 - 1),
      // a features length that runs past the keys
      concatBytes(Uint8Array.of(0x01, 0x00), unsignedAnnouncement(new Uint8Array(0), alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey).subarray(2)),
      new Uint8Array(1)
    ]
    for (const unsigned of cases) expect(failureTag(alice.signer.signChannelAnnouncement(alice.keyId, unsigned))).toBe("InvalidSigningRequest")
  })

  it("before the parameters are registered, only our own key is checked", () => {
    const signer = makeSeedChannelSigner(bytes("fresh seed", 32), secp)
    const keyId = channelKeyId(bytes("fresh key id", 32))
    if (keyId === undefined) throw new Error("unreachable")
    const ours = must(signer.channelPublicKeys(keyId)).fundingPubkey
    const other = secp.publicKey(bytes("other", 32)) ?? new Uint8Array(33)
    const unsigned = unsignedAnnouncement(new Uint8Array(0), other, ours)
    expect(secp.verify(must(signer.signChannelAnnouncement(keyId, unsigned)), hash256(unsigned), ours)).toBe(true)
  })
})
