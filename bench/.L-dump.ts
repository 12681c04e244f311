import { Schema } from "effect"
import { writeFileSync } from "node:fs"
import { loadSecp256k1Best } from "../src/layers/crypto/secp256k1-best.ts"
import { ChannelStateSchema } from "../src/protocol/channel/state.ts"
import { openDriver, addHtlc, settle, input } from "./htlc-dance.bench.ts"
const enc = Schema.encodeSync(ChannelStateSchema)
const { secp } = await loadSecp256k1Best()
const d = openDriver(secp)
const states: any[] = []
const orig = d.a
// sample: states after each step of a
const seen: string[] = []
const push = () => { for (const s of [d.a.state, d.b.state]) seen.push(JSON.stringify(enc(s as any))) }
push()
addHtlc(d); push(); addHtlc(d); push()
input(d, d.a, { _tag: "SignNow" }); push()
settle(d); push()
writeFileSync("/tmp/L/samples.json", "[" + seen.join(",\n") + "]")
console.log(seen.length, seen.map(s => s.length))
