/**
 * The LDK channel harness checked against itself: two LDK nodes open a channel over TCP with
 * the hand-driven chain, pay an invoice, and close cooperatively. If this fails, the interop
 * tests with our node cannot be trusted.
 */
import { afterEach, describe, expect, it } from "vitest"
import { fundingTransaction } from "./fundingTx.ts"
import { type LdkEvent, LdkNode } from "./LdkNode.ts"
import { waitUntil } from "./LdkPeer.ts"

const nodes: Array<LdkNode> = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

const is = <T extends LdkEvent["_tag"]>(tag: T) => (e: LdkEvent): e is Extract<LdkEvent, { _tag: T }> => e._tag === tag

describe("LdkNode (harness self-check)", () => {
  it.each([false, true])("two LDK nodes open a channel, pay, and close (anchors: %s)", async (anchors) => {
    const a = await LdkNode.start({ anchors })
    const b = await LdkNode.start({ anchors })
    nodes.push(a, b)
    await a.peer.connect(b.nodeId, "127.0.0.1", b.port)
    await waitUntil("init both ways", () => a.peer.listPeers().length === 1 && b.peer.listPeers().length === 1)
    a.openChannel(b.nodeId, 100_000n)
    const ready = await a.waitForEvent("FundingGenerationReady", is("FundingGenerationReady"))
    const funding = fundingTransaction(ready.outputScript, ready.amountSat)
    a.fundChannel(ready.temporaryChannelId, b.nodeId, funding.bytes)
    await a.waitForEvent("ChannelPending", is("ChannelPending"))
    expect(a.broadcasts.some((t) => Buffer.from(t).equals(Buffer.from(funding.bytes)))).toBe(true)
    for (const n of [a, b]) n.mine([funding.bytes], 6)
    await a.waitForEvent("ChannelReady at a", is("ChannelReady"))
    await b.waitForEvent("ChannelReady at b", is("ChannelReady"))
    await waitUntil("usable", () => a.listChannels().some((c) => c.get_is_usable()))

    const invoice = b.createInvoice(5_000_000n)
    a.payInvoice(invoice)
    const sent = await a.waitForEvent("PaymentSent", is("PaymentSent"))
    expect(sent.preimage.length).toBe(32)
    await b.waitForEvent("PaymentClaimed", is("PaymentClaimed"))

    const channelId = a.listChannels()[0]?.get_channel_id().get_a()
    if (channelId === undefined) throw new Error("no channel")
    a.closeChannel(channelId, b.nodeId)
    await a.waitForEvent("ChannelClosed at a", is("ChannelClosed"), 15_000)
    await b.waitForEvent("ChannelClosed at b", is("ChannelClosed"), 15_000)
  }, 60_000)
})
