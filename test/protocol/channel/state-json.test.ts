/**
 * `encodeChannelStateJson` (the persistence path's hand-written encoding) gives exactly the
 * Schema's JSON: on a channel with HTLCs in flight, with every optional field of `Normal` set at
 * random (shutdown scripts, aliases, dust-exposed ids, pending close, TLV records in update
 * messages, the kinds of `awaiting`), and on the other phases (through the Schema). Every state
 * of every step in the step tests is also compared (step-harness.ts).
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Schema } from "effect"
import type { UpdateMessage } from "../../../src/protocol/channel/commitments.ts"
import { ChannelStateSchema, type ChannelState, type Normal } from "../../../src/protocol/channel/state.ts"
import { encodeChannelStateJson } from "../../../src/protocol/channel/state-json.ts"
import type { ShortChannelId } from "../../../src/protocol/codec/fields.ts"
import { msat } from "../../../src/protocol/units.ts"
import { newPair, preimageFor } from "./step-harness.ts"
import { sha256 } from "@noble/hashes/sha2.js"

const schemaJson = (s: ChannelState): string => JSON.stringify(Schema.encodeSync(ChannelStateSchema)(s))
const fastJson = (s: ChannelState): string => JSON.stringify(encodeChannelStateJson(s))
/** A Normal state with HTLCs both ways, some in the update logs. */
const base = ((): Normal => {
  const p = newPair("json-a", "json-b")
  p.open()
  for (let i = 0; i < 3; i++) {
    p.input(p.a, { _tag: "AddHtlc", requestId: `a${i}`, amount: msat(2_000_000n + BigInt(i)), paymentHash: sha256(preimageFor(`a${i}`)), cltvExpiry: 800_000 + i, onion: new Uint8Array(1366).fill(i) })
  }
  p.settle()
  p.input(p.b, { _tag: "AddHtlc", requestId: "b0", amount: msat(3_000_000n), paymentHash: sha256(preimageFor("b0")), cltvExpiry: 800_500, onion: new Uint8Array(1366).fill(9) })
  p.input(p.a, { _tag: "AddHtlc", requestId: "a9", amount: msat(4_000_000n), paymentHash: sha256(preimageFor("a9")), cltvExpiry: 800_600, onion: new Uint8Array(1366).fill(5) })
  const s = p.a.state
  if (s?._tag !== "Normal") throw new Error("not Normal")
  return s
})()

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })
const scid = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => n as ShortChannelId)
const signature = bytes(64)
const commitmentState = fc.record({
  commitmentNumber: fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }),
  feeratePerKw: fc.integer({ min: 0, max: 0xffffffff }),
  toLocal: u64.map(msat),
  toRemote: u64.map(msat),
  htlcs: fc.array(
    fc.record({ direction: fc.constantFrom("offered" as const, "received" as const), amount: u64.map(msat), paymentHash: bytes(32), cltvExpiry: fc.integer({ min: 0, max: 0xffffffff }) }),
    { maxLength: 3 }
  )
})

/** Update messages of the base state with TLVs set or not (unknown records included). */
const withTlvs = (m: UpdateMessage): fc.Arbitrary<UpdateMessage> => {
  const unknown = fc.array(fc.record({ type: fc.bigInt({ min: 65_537n, max: 1_000_000n }).map((t) => t | 1n), value: fc.uint8Array({ maxLength: 8 }) }), { minLength: 1, maxLength: 2 })
  return fc.oneof(fc.constant(m), unknown.map((u) => ({ ...m, tlvs: { ...m.tlvs, unknown: u } }) as UpdateMessage))
}

const normal: fc.Arbitrary<Normal> = fc
  .record({
    localScript: fc.option(fc.uint8Array({ maxLength: 34 }), { nil: undefined }),
    remoteScript: fc.option(fc.uint8Array({ maxLength: 34 }), { nil: undefined }),
    closingFeeratePerKw: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
    pendingClose: fc.option(fc.record({ scriptPubKey: fc.uint8Array({ maxLength: 34 }) }), { nil: undefined }),
    shortChannelId: fc.option(scid, { nil: undefined }),
    localAlias: fc.option(scid, { nil: undefined }),
    remoteAlias: fc.option(scid, { nil: undefined }),
    commitSentAtLocalNumber: fc.option(u64, { nil: undefined }),
    revealedSecrets: fc.array(fc.record({ commitmentNumber: u64, secret: bytes(32) }), { maxLength: 2 }),
    fulfilledByPeer: fc.array(u64, { maxLength: 3 }),
    dustExposed: fc.option(fc.array(u64, { maxLength: 3 }), { nil: undefined }),
    receivedHtlcs: fc.option(
      fc.array(
        fc.record({
          htlcId: u64,
          amount: u64.map(msat),
          paymentHash: bytes(32),
          cltvExpiry: fc.integer({ min: 0, max: 0xffffffff }),
          onion: bytes(1366),
          pathKey: fc.option(fc.constant(base.commitments.localNextPerCommitmentPoint), { nil: undefined }),
          dustExposureExceeded: fc.option(fc.boolean(), { nil: undefined })
        }),
        { maxLength: 2 }
      ),
      { nil: undefined }
    ),
    connection: fc.constantFrom("Connected" as const, "Disconnected" as const, "Reestablishing" as const),
    proposed: fc.tuple(...base.commitments.localChanges.proposed.map(withTlvs)),
    awaiting: fc.option(
      fc.oneof(
        fc.record({ commitment: commitmentState, theirPerCommitmentPoint: fc.constant(base.commitments.localNextPerCommitmentPoint), withChannel: fc.boolean() }).map(({ commitment, theirPerCommitmentPoint, withChannel }) => ({
          _tag: "Commit" as const,
          request: {
            _tag: "SignCounterpartyCommitment" as const,
            commitment,
            theirPerCommitmentPoint,
            ...(withChannel ? { channel: base.commitments.params } : {})
          }
        })),
        fc.record({ holderCommitment: commitmentState, signature, htlcSignatures: fc.array(signature, { maxLength: 2 }), revoke: fc.option(u64, { nil: undefined }), next: u64 }).map((r) => ({
          _tag: "Revoke" as const,
          request: {
            _tag: "ValidateAndRevoke" as const,
            holderCommitment: r.holderCommitment,
            signature: r.signature,
            htlcSignatures: r.htlcSignatures,
            ...(r.revoke === undefined ? {} : { revokeCommitmentNumber: r.revoke }),
            nextCommitmentNumber: r.next
          }
        })),
        fc.record({ n: u64, secret: bytes(32) }).map(({ n, secret }) => ({
          _tag: "DataLossCheck" as const,
          request: { _tag: "PerCommitmentPoint" as const, commitmentNumber: n },
          commitmentNumber: n,
          secret
        })),
        fc.record({ tx: fc.uint8Array({ maxLength: 80 }) }).map(({ tx }) => ({
          _tag: "ClosingSigned" as const,
          request: { _tag: "SignClosing" as const, tx },
          signing: { _tag: "Propose" as const, fee: 1000n }
        }))
      ),
      { nil: undefined }
    )
  })
  .map((r): Normal => {
    const shutdown = { ...(r.localScript === undefined ? {} : { localScript: r.localScript }), ...(r.remoteScript === undefined ? {} : { remoteScript: r.remoteScript }) }
    const s: Normal = {
      ...base,
      connection: r.connection,
      shutdown,
      revealedSecrets: r.revealedSecrets,
      fulfilledByPeer: r.fulfilledByPeer,
      commitments: { ...base.commitments, localChanges: { ...base.commitments.localChanges, proposed: r.proposed } }
    }
    const optional = {
      closingFeeratePerKw: r.closingFeeratePerKw,
      pendingClose: r.pendingClose,
      shortChannelId: r.shortChannelId,
      localAlias: r.localAlias,
      remoteAlias: r.remoteAlias,
      commitSentAtLocalNumber: r.commitSentAtLocalNumber,
      dustExposed: r.dustExposed,
      receivedHtlcs: r.receivedHtlcs,
      awaiting: r.awaiting
    }
    // Absent keys and keys holding undefined must both encode as absent.
    return { ...s, ...optional } as Normal
  })

describe("encodeChannelStateJson", () => {
  it("the base state encodes as the Schema does, and decodes back", () => {
    expect(base.commitments.localChanges.proposed.length).toBeGreaterThan(0)
    expect(fastJson(base)).toBe(schemaJson(base))
    expect(schemaJson(Schema.decodeUnknownSync(ChannelStateSchema)(JSON.parse(fastJson(base))))).toBe(schemaJson(base))
  })

  it("any Normal state: the Schema's JSON, key for key", () => {
    fc.assert(
      fc.property(normal, (s) => {
        expect(fastJson(s)).toBe(schemaJson(s))
      }),
      { numRuns: 200 }
    )
  })

  it("states sharing memoized parts in any mix (points, owed revocation, arrays, shutdown, scids): each the Schema's JSON", () => {
    fc.assert(
      fc.property(normal, normal, (x, y) => {
        // Parts of `y` in `x`: a part encoded for one state is found again for the other.
        const mixed: Normal = {
          ...x,
          shutdown: y.shutdown,
          revealedSecrets: y.revealedSecrets,
          fulfilledByPeer: y.fulfilledByPeer,
          commitments: { ...x.commitments, owedRevocation: y.commitments.owedRevocation, localNextPerCommitmentPoint: y.commitments.localNextPerCommitmentPoint }
        }
        for (const s of [x, y, mixed, x, mixed]) expect(fastJson(s)).toBe(schemaJson(s))
      }),
      { numRuns: 100 }
    )
  })

  it("other phases go through the Schema", () => {
    const closed: ChannelState = { _tag: "Closed", nextUpdateId: 7n, channelId: base.commitments.params.channelId, reason: { _tag: "Cooperative", closingTxid: new Uint8Array(32).fill(1) } }
    expect(fastJson(closed)).toBe(schemaJson(closed))
  })

  it("an onion encodes the same the second time (memoized hex)", () => {
    expect(fastJson(base)).toBe(fastJson(base))
  })

  it("parts shared by consecutive states are encoded once, frozen; a changed part is encoded again", () => {
    const next: Normal = { ...base, nextUpdateId: base.nextUpdateId + 1n, commitments: { ...base.commitments, localNextHtlcId: base.commitments.localNextHtlcId + 1n } }
    const a = encodeChannelStateJson(base)
    const b = encodeChannelStateJson(next)
    const partOf = (j: unknown, ...path: ReadonlyArray<string>): unknown =>
      path.reduce<unknown>((o, k) => (typeof o === "object" && o !== null && k in o ? (o as Record<string, unknown>)[k] : undefined), j)
    // The same params and commitments objects: the same (frozen) encodings.
    for (const path of [["commitments", "params"], ["commitments", "localCommit"], ["commitments", "remoteCommit"]]) {
      const x = partOf(a, ...path)
      expect(x).toBeDefined()
      expect(partOf(b, ...path)).toBe(x)
      expect(Object.isFrozen(x)).toBe(true)
      expect(() => Object.assign(x as object, { tampered: true })).toThrow(TypeError)
    }
    expect(partOf(b, "commitments", "localNextHtlcId")).toBe((base.commitments.localNextHtlcId + 1n).toString())
    // A new params object (other content) is encoded afresh.
    const params = { ...base.commitments.params, announce: !base.commitments.params.announce }
    const c = encodeChannelStateJson({ ...base, commitments: { ...base.commitments, params } })
    expect(partOf(c, "commitments", "params", "announce")).toBe(params.announce)
    expect(fastJson({ ...base, commitments: { ...base.commitments, params } })).toBe(schemaJson({ ...base, commitments: { ...base.commitments, params } }))
  })
})
