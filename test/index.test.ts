import { describe, expect, it } from "vitest"
import * as Lightning from "../src/index.ts"

describe("public entry point", () => {
  it("loads and exposes each ring", () => {
    for (const name of ["Codec", "Messages", "Features", "Noise", "Keys", "Tx", "Onion", "Invoice", "Channel", "Monitor", "StoreLayers"]) {
      expect(Lightning, name).toHaveProperty(name)
    }
    expect(typeof Lightning.Invoice.decodeInvoice).toBe("function")
    expect(typeof Lightning.PeerManager).toBe("function")
    expect(typeof Lightning.ChannelSigner).toBe("function")
    expect(typeof Lightning.createInvoice).toBe("function")
    expect(Lightning.fastestCrypto.secp.publicKey(new Uint8Array(32).fill(1))).toHaveLength(33)
    expect(Lightning.wasmSecp256k1.name).not.toBe(Lightning.Secp256k1.nobleSecp256k1.name)
  })

  it("does not export the insecure test layers, the production layers or the HTTP API", () => {
    for (const name of ["TestLayers", "SeededNodeSigner", "SeededEntropy", "NodeLayers", "NodeLive", "ControlApi", "createNode"]) {
      expect(Lightning, name).not.toHaveProperty(name)
    }
  })
})
