import { Schema } from "effect"
import { loadSecp256k1Best } from "../src/layers/crypto/secp256k1-best.ts"
import { ChannelStateSchema } from "../src/protocol/channel/state.ts"
import { openDriver, addHtlc, settle, input } from "./htlc-dance.bench.ts"
const enc = Schema.encodeSync(ChannelStateSchema)
const { secp } = await loadSecp256k1Best()
const d = openDriver(secp)
const show = (label: string) => { for (const s of [d.a.state, d.b.state] as any[]) { const c = s.commitments; console.log(label, s === d.a.state ? "A" : "B", JSON.stringify(enc(s)).length, "lc", c.localChanges.proposed.length, c.localChanges.signed.length, c.localChanges.acked.length, "rc", c.remoteChanges.proposed.length, c.remoteChanges.acked.length, c.remoteChanges.signed.length, "spec", c.localCommit.spec.htlcs.length, c.remoteCommit.spec.htlcs.length) } }
for (let i = 0; i < 50; i++) addHtlc(d)
show("added")
settle(d)
show("settled")
