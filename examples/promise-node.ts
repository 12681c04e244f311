// Two Lightning nodes from plain TypeScript (Promises, no Effect): connect them, watch their
// events, open a channel and abort it before funding.
// Run: node_modules/.bin/node examples/promise-node.ts   (after `npm run build`; it imports the package)
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ChannelError, createNode } from "effect-lightning/promise"

const [aliceDir, bobDir] = await Promise.all([mkdtemp(join(tmpdir(), "alice-")), mkdtemp(join(tmpdir(), "bob-"))])
// Each node: a seed file in its data directory (its key), TCP on 127.0.0.1 (any free port).
const alice = await createNode({ dataDir: aliceDir, network: "regtest" })
const bob = await createNode({ dataDir: bobDir, network: "regtest" })
try {
  // Events as an EventEmitter...
  bob.on("PeerConnected", (e) => console.log(`bob: peer connected (${e.peer.direction})`))
  // ...and as an async iterator.
  const aliceEvents = alice.events()

  const peer = await alice.connect(bob.nodeId, bob.listenAddress ?? "")
  console.log(`alice -> bob ${peer.nodeId.slice(0, 16)}..., negotiated features: ${peer.negotiatedFeatures.join(", ")}`)

  // Open a 100,000 sat channel: it waits for a funding transaction paying `fundingOutput`.
  const channel = await alice.openChannel(bob.nodeId, 100_000)
  console.log(`channel ${channel.phase}: fund ${channel.fundingOutput?.amountSat} sat to ${channel.fundingOutput?.scriptPubKey}`)
  for await (const event of aliceEvents) {
    if (event.kind === "channel" && event.type === "FundingNeeded") break
  }
  const aborted = await alice.forceClose(channel.channelId) // not funded yet: simply aborted
  console.log(`channel ${aborted.phase} (${aborted.closed?.reason})`)

  // Failures are typed errors.
  try {
    await alice.forceClose(channel.channelId.replace(/^./, (c) => (c === "0" ? "1" : "0")))
  } catch (e) {
    if (e instanceof ChannelError) console.log(`${e.code}: ${e.message}`)
    else throw e
  }
} finally {
  await alice.close()
  await bob.close()
  for (const dir of [aliceDir, bobDir]) await rm(dir, { recursive: true, force: true })
}
