import { sharedCommitmentKeysCache } from "../src/protocol/keys/commitment-keys-cache.ts"
import * as ck from "../src/protocol/keys/commitment-keys.ts"
process.env["HTLC_DANCE_MS"] = "300"
const m = await import("./htlc-dance.bench.ts")
await m.run()
console.log(sharedCommitmentKeysCache.stats(), sharedCommitmentKeysCache.size())
