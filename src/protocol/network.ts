/**
 * The Bitcoin network a node runs on, and everything the protocol reads from it: the genesis
 * chain hash (BOLT 0 `chain_hash`: the `init` `networks` TLV, `open_channel`'s `chain_hash`,
 * gossip), the BOLT 11 invoice currency prefix, and the segwit address prefix (BIP 173/350) of
 * shutdown and fallback addresses. One `Network` value is the node's one network setting
 * (`services/NodeNetwork.ts`); nothing else hard-codes a chain.
 */
import { Schema } from "effect"
import { equalBytes } from "./bytes.ts"
import type { ChainHash } from "./codec/fields.ts"
import type { Network as InvoiceCurrency } from "./invoice/hrp.ts"
import { ChainHashes } from "./messages/init.ts"

/** The networks, as the `--network` flag spells them. `testnet` is testnet3. */
export const NetworkNames = ["mainnet", "testnet", "testnet4", "signet", "regtest"] as const
export type NetworkName = (typeof NetworkNames)[number]
export const NetworkNameSchema = Schema.Literals(NetworkNames)

export interface Network {
  readonly name: NetworkName
  /** Genesis block hash in wire order (BOLT 0 `chain_hash`). */
  readonly chainHash: ChainHash
  /** BOLT 11 currency prefix: invoices read `ln` + this. */
  readonly invoicePrefix: InvoiceCurrency
  /** Segwit address human-readable part (BIP 173): `bc`, `tb` or `bcrt`. */
  readonly addressPrefix: string
}

export const Networks: { readonly [K in NetworkName]: Network } = {
  mainnet: { name: "mainnet", chainHash: ChainHashes.bitcoin, invoicePrefix: "bc", addressPrefix: "bc" },
  testnet: { name: "testnet", chainHash: ChainHashes.testnet3, invoicePrefix: "tb", addressPrefix: "tb" },
  testnet4: { name: "testnet4", chainHash: ChainHashes.testnet4, invoicePrefix: "tb", addressPrefix: "tb" },
  signet: { name: "signet", chainHash: ChainHashes.signet, invoicePrefix: "tbs", addressPrefix: "tb" },
  regtest: { name: "regtest", chainHash: ChainHashes.regtest, invoicePrefix: "bcrt", addressPrefix: "bcrt" }
}

/** The default network of the daemon and of a node that is not told otherwise. */
export const defaultNetwork: Network = Networks.regtest

/** Other spellings accepted on input (Bitcoin Core's `-chain` names). */
const ALIASES: Readonly<Record<string, NetworkName>> = { bitcoin: "mainnet", main: "mainnet", test: "testnet", testnet3: "testnet" }

/** The network named `name` (case-insensitive; `bitcoin`, `main`, `test`, `testnet3` accepted), or undefined. */
export const networkByName = (name: string): Network | undefined => {
  const lower = name.toLowerCase()
  const canonical = NetworkNames.find((n) => n === lower) ?? ALIASES[lower]
  return canonical === undefined ? undefined : Networks[canonical]
}

/** The network whose genesis hash this is, or undefined for a chain we do not know. */
export const networkOfChainHash = (chainHash: Uint8Array): Network | undefined =>
  NetworkNames.map((n) => Networks[n]).find((n) => equalBytes(n.chainHash, chainHash))

/**
 * Whether a `chain_hash` a peer sent is this network's (BOLT 2 `open_channel`: the receiver
 * MUST fail the channel if `chain_hash` is for a chain it does not use).
 */
export const isOurChain = (network: Network, chainHash: Uint8Array): boolean => equalBytes(network.chainHash, chainHash)

/** Whether a BOLT 11 invoice's currency prefix belongs to this network (testnet3 and testnet4 share `tb`). */
export const acceptsInvoicePrefix = (network: Network, prefix: InvoiceCurrency): boolean => network.invoicePrefix === prefix
