/**
 * The README's "Using the library from Effect" example: the code block in the README is
 * exactly `examples/two-nodes.ts` (so it type-checks with the rest), and it runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { program } from "../examples/two-nodes.ts"
import { secretFromSeed } from "../src/layers/test/SeededNodeSigner.ts"
import { toHex } from "../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../src/protocol/crypto/secp256k1.ts"

describe("README example", () => {
  it("the README shows examples/two-nodes.ts verbatim", () => {
    const readme = readFileSync("README.md", "utf8")
    const section = readme.split("## Using the library from Effect")[1]
    assert.isDefined(section, "README has no 'Using the library from Effect' section")
    const block = /```ts\n([\s\S]*?)```/.exec(section ?? "")?.[1]
    assert.strictEqual(block, readFileSync("examples/two-nodes.ts", "utf8"))
  })

  it.live("runs: alice connects to bob over TCP", () =>
    Effect.gen(function*() {
      const peer = yield* program
      const bobId = nobleSecp256k1.publicKey(secretFromSeed("bob"))
      assert.strictEqual(toHex(peer.nodeId), toHex(bobId ?? new Uint8Array()))
      assert.strictEqual(peer.direction, "outbound")
    }))
})
