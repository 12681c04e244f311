/**
 * Nothing loads at import: the crypto modules (and the `Crypto` reference) load no WebAssembly
 * and no native addon until first used; libsodium's first use starts its asynchronous load and
 * is served by noble (same bytes) until it is ready. Checked in a fresh Node process, since
 * this test process may already have loaded them.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const NODE = join(process.cwd(), "node_modules/.bin/node")

const run = (script: string): unknown =>
  JSON.parse(execFileSync(NODE, ["--input-type=module", "-e", script], { cwd: process.cwd(), encoding: "utf8", timeout: 60_000 }))

describe("lazy crypto loading", () => {
  it("importing the crypto modules and the Crypto reference loads nothing; first use chooses and loads", () => {
    const result = run(`
      import { Effect } from "effect"
      const wasm = await import("./src/layers/crypto/secp256k1-wasm.ts")
      const best = await import("./src/layers/crypto/secp256k1-best.ts")
      const sodium = await import("./src/layers/crypto/aead-sodium.ts")
      const { Crypto } = await import("./src/services/Crypto.ts")
      const before = { wasm: wasm.isWasmSecp256k1Loaded(), chosen: best.isSecp256k1Chosen(), sodium: sodium.isSodiumLoaded() }
      const crypto = Effect.runSync(Effect.gen(function*() { return yield* Crypto }))
      const untouched = best.isSecp256k1Chosen()
      const key = crypto.secp.publicKey(new Uint8Array(32).fill(1))
      const box = crypto.aead.encrypt(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0), Uint8Array.of(1, 2))
      const ready = await sodium.loadSodium()
      const box2 = crypto.aead.encrypt(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0), Uint8Array.of(1, 2))
      console.log(JSON.stringify({
        before, untouched, chosen: best.isSecp256k1Chosen(), backend: best.bestSecp256k1().backend,
        name: crypto.secp.name, keyLength: key.length, sodium: ready && sodium.isSodiumLoaded(),
        sameBox: Buffer.from(box).equals(Buffer.from(box2))
      }))
    `)
    expect(result).toMatchObject({
      before: { wasm: false, chosen: false, sodium: false },
      untouched: false,
      chosen: true,
      keyLength: 33,
      sodium: true,
      sameBox: true
    })
    const backend = (result as { backend: string }).backend
    expect(["native", "wasm"]).toContain(backend)
  })

  it("the WASM backend loads on first call and agrees with noble", () => {
    const result = run(`
      const wasm = await import("./src/layers/crypto/secp256k1-wasm.ts")
      const { nobleSecp256k1 } = await import("./src/protocol/crypto/secp256k1.ts")
      const before = wasm.isWasmSecp256k1Loaded()
      const secret = new Uint8Array(32).fill(3)
      const same = Buffer.from(wasm.wasmSecp256k1.publicKey(secret)).equals(Buffer.from(nobleSecp256k1.publicKey(secret)))
      console.log(JSON.stringify({ before, after: wasm.isWasmSecp256k1Loaded(), same }))
    `)
    expect(result).toEqual({ before: false, after: true, same: true })
  })
})
