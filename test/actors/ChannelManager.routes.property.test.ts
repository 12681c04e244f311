/**
 * The manager's route table remembers the last peer message's route (no hex or key string made
 * when the next message names the same channel) and forgets it at any change of the map; a miss
 * looks the id's first 30 bits up among the peer's routes and confirms the id against the route's
 * hex (no string made per lookup); the hex of an id array is converted once per array. The
 * session table answers a message's "is this its peer's live session" by session id. Property-tested
 * against the plain forms: a map read with a key made per lookup, `toHex` per call, a map of
 * each peer's live session read by the node id's hex.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeRouteTable, makeSessionTable } from "../../src/actors/ChannelManager.ts"
import { SessionId } from "../../src/actors/PeerEvent.ts"
import { NodeId } from "../../src/protocol/units.ts"
import { hexOfHeld, toHex } from "../../src/protocol/bytes.ts"

type Op =
  | { readonly _tag: "Set"; readonly peer: number; readonly id: number; readonly value: number }
  | { readonly _tag: "Delete"; readonly peer: number; readonly id: number }
  | { readonly _tag: "Route"; readonly peer: number; readonly id: number }

const peers = ["02" + "aa".repeat(32), "03" + "bb".repeat(32)]
/** Channel id bytes: a fresh array each time (as a decoded message's), ids 0..3 differing in one byte. */
const idBytes = (id: number): Uint8Array => {
  const b = new Uint8Array(32).fill(5)
  b[31] = id
  return b
}
const keyOf = (peer: number, id: number): string => `${peers[peer] ?? ""}/${toHex(idBytes(id))}`

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("Set" as const), peer: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 3 }), value: fc.nat() }),
  fc.record({ _tag: fc.constant("Delete" as const), peer: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ _tag: fc.constant("Route" as const), peer: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 3 }) })
)

describe("ChannelManager route table", () => {
  it("routes as a plain map read with a key made per lookup, whatever the sets and deletes between", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const table = makeRouteTable<{ readonly value: number }>()
        const plain = new Map<string, { readonly value: number }>()
        for (const o of ops) {
          switch (o._tag) {
            case "Set": {
              const entry = { value: o.value }
              table.set(keyOf(o.peer, o.id), entry)
              plain.set(keyOf(o.peer, o.id), entry)
              break
            }
            case "Delete":
              table.delete(keyOf(o.peer, o.id))
              plain.delete(keyOf(o.peer, o.id))
              break
            case "Route":
              expect(table.route(peers[o.peer] ?? "", idBytes(o.id))).toBe(plain.get(keyOf(o.peer, o.id)))
          }
        }
        expect([...table.routes]).toStrictEqual([...plain])
      }),
      { numRuns: 1_000 }
    )
  })

  it("a route replaced or deleted after it was used is not given again", () => {
    const table = makeRouteTable<string>()
    const key = keyOf(0, 1)
    table.set(key, "first")
    expect(table.route(peers[0] ?? "", idBytes(1))).toBe("first")
    table.set(key, "second")
    expect(table.route(peers[0] ?? "", idBytes(1))).toBe("second")
    table.delete(key)
    expect(table.route(peers[0] ?? "", idBytes(1))).toBeUndefined()
    // Another peer with the same channel id bytes is another route.
    table.set(key, "third")
    expect(table.route(peers[0] ?? "", idBytes(1))).toBe("third")
    expect(table.route(peers[1] ?? "", idBytes(1))).toBeUndefined()
  })
})

describe("ChannelManager route table: ids of another length", () => {
  it("are found as the plain map finds them, and never given from the memo for other bytes", () => {
    const table = makeRouteTable<string>()
    const short = Uint8Array.of(1, 2, 3)
    table.set(`${peers[0] ?? ""}/${toHex(short)}`, "short")
    table.set(keyOf(0, 1), "long")
    expect(table.route(peers[0] ?? "", short)).toBe("short")
    expect(table.route(peers[0] ?? "", Uint8Array.of(1, 2, 4))).toBeUndefined()
    expect(table.route(peers[0] ?? "", idBytes(1))).toBe("long")
    expect(table.route(peers[0] ?? "", short)).toBe("short")
  })
})

describe("ChannelManager route table: ids that share their first bytes or not, and keys no id has", () => {
  /** Ids from a few bytes at chosen places (the rest zero): many share their 30-bit prefix, some differ only in its last two bits. */
  const idArb = fc.record({ length: fc.constantFrom(32, 32, 32, 3, 0, 33), at: fc.constantFrom(0, 1, 3, 4, 31), byte: fc.constantFrom(0, 1, 2, 3, 4, 255) })
  const bytesOf = (id: { readonly length: number; readonly at: number; readonly byte: number }): Uint8Array => {
    const b = new Uint8Array(id.length)
    if (id.at < id.length) b[id.at] = id.byte
    return b
  }
  /** A key's id half: the id's hex, or one no `toHex` makes (uppercase, odd length, not hex). */
  const keyIdArb = fc.oneof(
    idArb.map((id) => toHex(bytesOf(id))),
    idArb.map((id) => toHex(bytesOf(id)).toUpperCase()),
    idArb.map((id) => `${toHex(bytesOf(id))}0`),
    fc.constantFrom("zz", "0g", "", "/", "00/00")
  )
  type Op2 =
    | { readonly _tag: "Set"; readonly peer: number; readonly id: string; readonly value: number }
    | { readonly _tag: "Delete"; readonly peer: number; readonly id: string }
    | { readonly _tag: "Route"; readonly peer: number; readonly id: { readonly length: number; readonly at: number; readonly byte: number } }
  const op2: fc.Arbitrary<Op2> = fc.oneof(
    fc.record({ _tag: fc.constant("Set" as const), peer: fc.integer({ min: 0, max: 1 }), id: keyIdArb, value: fc.nat() }),
    fc.record({ _tag: fc.constant("Delete" as const), peer: fc.integer({ min: 0, max: 1 }), id: keyIdArb }),
    fc.record({ _tag: fc.constant("Route" as const), peer: fc.integer({ min: 0, max: 1 }), id: idArb }),
    fc.record({ _tag: fc.constant("Route" as const), peer: fc.integer({ min: 0, max: 1 }), id: idArb })
  )

  it("route as a plain map read with the key `<peer>/<toHex(id)>` made per lookup", () => {
    fc.assert(
      fc.property(fc.array(op2, { maxLength: 80 }), (ops) => {
        const table = makeRouteTable<{ readonly value: number }>()
        const plain = new Map<string, { readonly value: number }>()
        for (const o of ops) {
          const peer = peers[o.peer] ?? ""
          switch (o._tag) {
            case "Set": {
              const entry = { value: o.value }
              table.set(`${peer}/${o.id}`, entry)
              plain.set(`${peer}/${o.id}`, entry)
              break
            }
            case "Delete":
              table.delete(`${peer}/${o.id}`)
              plain.delete(`${peer}/${o.id}`)
              break
            case "Route": {
              const bytes = bytesOf(o.id)
              expect(table.route(peer, bytes)).toBe(plain.get(`${peer}/${toHex(bytes)}`))
            }
          }
        }
        expect([...table.routes]).toStrictEqual([...plain])
      }),
      { numRuns: 2_000, seed: 18 }
    )
  })
})

describe("ChannelManager session table", () => {
  type SessionOp =
    | { readonly _tag: "Up"; readonly peer: number; readonly session: number; readonly fresh: boolean }
    | { readonly _tag: "Down"; readonly peer: number; readonly session: number; readonly fresh: boolean }
    | { readonly _tag: "Message"; readonly peer: number; readonly session: number; readonly fresh: boolean }
  const nodeIds = [0, 1, 2].map((i) => NodeId(Uint8Array.of(2, ...new Uint8Array(32).fill(1 + i))))
  /** The peer's node id: its one array, or a fresh copy (a decoded message's). */
  const nodeIdOf = (peer: number, fresh: boolean): NodeId => {
    const id = nodeIds[peer]
    if (id === undefined) throw new RangeError(`no peer ${peer}`)
    return fresh ? NodeId(id.slice()) : id
  }
  const sessionOp: fc.Arbitrary<SessionOp> = fc.record({
    _tag: fc.constantFrom("Up" as const, "Down" as const, "Message" as const, "Message" as const),
    peer: fc.integer({ min: 0, max: 2 }),
    // Few session ids: peers share them often (a peer layer's counter never does; the table must not care).
    session: fc.integer({ min: 1, max: 3 }),
    fresh: fc.boolean()
  })

  it("answers as a plain map of each peer's live session read by the node id's hex, whatever peers share session ids", () => {
    fc.assert(
      fc.property(fc.array(sessionOp, { maxLength: 80 }), (ops) => {
        const table = makeSessionTable<{ readonly session: SessionId; readonly n: number }>()
        const plain = new Map<string, { readonly session: SessionId; readonly n: number }>()
        ops.forEach((o, n) => {
          const nodeId = nodeIdOf(o.peer, o.fresh)
          const session = SessionId(o.session)
          const hex = toHex(nodeId)
          switch (o._tag) {
            case "Up": {
              const live = { session, n }
              table.up(nodeId, live)
              plain.set(hex, live)
              break
            }
            case "Down":
              table.down(nodeId, session)
              if (plain.get(hex)?.session === session) plain.delete(hex)
              break
            case "Message":
              expect(table.livePeerHex(nodeId, session)).toBe(plain.get(hex)?.session === session ? hex : undefined)
          }
          for (let peer = 0; peer < nodeIds.length; peer++) expect(table.get(toHex(nodeIdOf(peer, false)))).toBe(plain.get(toHex(nodeIdOf(peer, false))))
        })
      }),
      { numRuns: 2_000, seed: 18 }
    )
  })
})

describe("hexOfHeld", () => {
  it("is toHex, for fresh arrays and for the same array asked again", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        expect(hexOfHeld(bytes)).toBe(toHex(bytes))
        expect(hexOfHeld(bytes)).toBe(toHex(bytes))
      }),
      { numRuns: 500 }
    )
  })
})
