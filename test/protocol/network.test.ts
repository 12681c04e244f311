import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../src/protocol/bytes.ts"
import { formatHrp, parseHrp } from "../../src/protocol/invoice/hrp.ts"
import {
  acceptsInvoicePrefix,
  defaultNetwork,
  isOurChain,
  networkByName,
  NetworkNames,
  networkOfChainHash,
  Networks
} from "../../src/protocol/network.ts"
import { readVectors } from "../vectors.ts"

/** Genesis block hashes as block explorers print them (byte-reversed from `chain_hash`). */
const GENESIS_DISPLAY = {
  mainnet: "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
  testnet: "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
  testnet4: "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
  signet: "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
  regtest: "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
} as const

describe("Network", () => {
  it("chain hashes are the genesis block hashes in wire order (BOLT 0)", () => {
    const vector = readVectors("bolt00-constants.json") as { chain_hash: { bitcoin_mainnet: string } }
    expect(toHex(Networks.mainnet.chainHash)).toBe(vector.chain_hash.bitcoin_mainnet)
    for (const name of NetworkNames) {
      expect(toHex(Uint8Array.from(Networks[name].chainHash).reverse())).toBe(GENESIS_DISPLAY[name])
    }
  })

  it("invoice and address prefixes", () => {
    expect(NetworkNames.map((n) => [n, Networks[n].invoicePrefix, Networks[n].addressPrefix])).toEqual([
      ["mainnet", "bc", "bc"],
      ["testnet", "tb", "tb"],
      ["testnet4", "tb", "tb"],
      ["signet", "tbs", "tb"],
      ["regtest", "bcrt", "bcrt"]
    ])
    for (const name of NetworkNames) {
      const prefix = Networks[name].invoicePrefix
      const parsed = parseHrp(formatHrp(prefix, undefined))
      expect(Result.isSuccess(parsed) && parsed.success.network).toBe(prefix)
      expect(acceptsInvoicePrefix(Networks[name], prefix)).toBe(true)
    }
    expect(acceptsInvoicePrefix(Networks.signet, "tb")).toBe(false)
    expect(acceptsInvoicePrefix(Networks.mainnet, "bcrt")).toBe(false)
  })

  it("names, aliases and lookups", () => {
    expect(defaultNetwork).toBe(Networks.regtest)
    for (const name of NetworkNames) {
      expect(networkByName(name)).toBe(Networks[name])
      expect(networkByName(name.toUpperCase())).toBe(Networks[name])
      expect(networkOfChainHash(Networks[name].chainHash)).toBe(Networks[name])
      expect(Networks[name].name).toBe(name)
    }
    expect(networkByName("bitcoin")).toBe(Networks.mainnet)
    expect(networkByName("testnet3")).toBe(Networks.testnet)
    expect(networkByName("litecoin")).toBeUndefined()
    expect(networkByName("")).toBeUndefined()
    expect(networkOfChainHash(new Uint8Array(32))).toBeUndefined()
  })

  it("isOurChain: only this network's chain hash", () => {
    for (const a of NetworkNames) {
      for (const b of NetworkNames) expect(isOurChain(Networks[a], Networks[b].chainHash)).toBe(a === b)
    }
  })
})
