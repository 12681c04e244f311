/**
 * Checks of the LDK harness itself, independent of our node: two real LDK nodes talk over TCP
 * on 127.0.0.1 in both directions, and LDK really does disconnect a peer that completes the
 * handshake and `init` but never answers a ping (so "stays connected across ticks" in the interop
 * test is a real check, not a vacuous one).
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import noise from "@node-lightning/noise"
import { randomBytes } from "node:crypto"
import { LdkPeer, waitUntil } from "./LdkPeer.ts"

const started: Array<LdkPeer> = []
const start = async (...args: Parameters<typeof LdkPeer.start>): Promise<LdkPeer> => {
  const peer = await LdkPeer.start(...args)
  started.push(peer)
  return peer
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()))
})

describe("LDK harness (two LDK nodes over TCP)", () => {
  it("connects, exchanges init, survives ping ticks and sees a disconnect", async () => {
    const a = await start()
    const b = await start()
    await a.connect(b.nodeId, "127.0.0.1", b.port)
    await waitUntil("both LDK nodes to list each other", () =>
      a.peer(b.nodeIdHex) !== undefined && b.peer(a.nodeIdHex) !== undefined)

    const aSeesB = a.peer(b.nodeIdHex)
    const bSeesA = b.peer(a.nodeIdHex)
    expect(aSeesB?.inbound).toBe(false)
    expect(bSeesA?.inbound).toBe(true)
    // A ChannelManager-backed LDK 0.1 node requires data_loss_protect (0), var_onion_optin (8),
    // static_remotekey (12) and payment_secret (14), BOLT 9.
    expect(aSeesB?.featureBits).toEqual(expect.arrayContaining([0, 8, 12, 14]))

    for (let round = 0; round < 3; round++) {
      await a.pingRound(b.nodeIdHex)
      await b.pingRound(a.nodeIdHex)
    }
    a.tick()
    b.tick()
    expect(a.listPeers().map((p) => p.nodeId)).toEqual([b.nodeIdHex])
    expect(b.listPeers().map((p) => p.nodeId)).toEqual([a.nodeIdHex])

    a.disconnect(b.nodeId)
    await waitUntil("b to notice the disconnect", () => b.listPeers().length === 0 && b.openConnections === 0)
    expect(a.listPeers()).toEqual([])
  })

  it("connects in the other direction too", async () => {
    const a = await start({ handler: "erroring" })
    const b = await start()
    await b.connect(a.nodeId, "127.0.0.1", a.port)
    await waitUntil("both LDK nodes to list each other", () =>
      a.peer(b.nodeIdHex)?.inbound === true && b.peer(a.nodeIdHex)?.inbound === false)
    await b.pingRound(a.nodeIdHex)
    b.tick()
    expect(b.peer(a.nodeIdHex)).toBeDefined()
  })
})

describe("LDK harness (a raw BOLT 8 peer from @node-lightning/noise)", () => {
  /** init: gflen 0, features with bits 1, 9, 13, 15 (data_loss_protect, var_onion_optin,
   *  static_remotekey, payment_secret, all optional), no TLVs. */
  const init = Buffer.from("001000000002a202", "hex")

  const rawPeer = async (ldkNode: LdkPeer, answerPings: boolean) => {
    const socket = noise.connect({ ls: randomBytes(32), rpk: Buffer.from(ldkNode.nodeId), host: "127.0.0.1", port: ldkNode.port })
    const received: Array<number> = []
    let closed = false
    socket.on("ready", () => socket.write(init))
    socket.on("data", (msg: Buffer) => {
      const type = msg.readUInt16BE(0)
      received.push(type)
      if (type === 18 && answerPings) {
        const numPongBytes = msg.readUInt16BE(2)
        const pong = Buffer.alloc(4 + numPongBytes)
        pong.writeUInt16BE(19, 0)
        pong.writeUInt16BE(numPongBytes, 2)
        socket.write(pong)
      }
    })
    socket.on("error", () => {})
    socket.on("close", () => { closed = true })
    await waitUntil("LDK to complete the handshake and init with the raw peer", () => ldkNode.listPeers().length === 1)
    const nodeIdHex = ldkNode.listPeers()[0]?.nodeId ?? ""
    return { socket, received, nodeIdHex, isClosed: () => closed }
  }

  it("LDK disconnects a peer that never answers its pings", async () => {
    const ldkNode = await start()
    const raw = await rawPeer(ldkNode, false)
    expect(raw.received[0]).toBe(16) // LDK's init
    ldkNode.tick() // ping sent
    await waitUntil("LDK's ping to arrive", () => raw.received.includes(18))
    ldkNode.tick() // no pong and nothing else since the last tick: disconnect
    await waitUntil("LDK to drop the silent peer", () => raw.isClosed() && ldkNode.listPeers().length === 0)
    expect(ldkNode.ldkInitiatedDisconnects).toBe(1)
  })

  it("LDK keeps a peer that answers its pings", async () => {
    const ldkNode = await start()
    const raw = await rawPeer(ldkNode, true)
    for (let round = 0; round < 3; round++) await ldkNode.pingRound(raw.nodeIdHex)
    ldkNode.tick()
    expect(ldkNode.listPeers().map((p) => p.nodeId)).toEqual([raw.nodeIdHex])
    expect(raw.isClosed()).toBe(false)
    raw.socket.destroy()
    await waitUntil("LDK to see the raw peer leave", () => ldkNode.listPeers().length === 0)
  })
})
