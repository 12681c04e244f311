/**
 * The on-chain wallet's keys: a BIP 39 mnemonic (or its 64-byte seed) → a BIP 32 master key →
 * two accounts, BIP 84 (P2WPKH, `m/84'/coin'/0'`) and BIP 86 (P2TR key path, `m/86'/coin'/0'`),
 * each with a receive chain (`/0/i`) and a change chain (`/1/i`). `coin` is 0 on mainnet and 1 on
 * every test network (BIP 44). Addresses are segwit v0 / v1 with the network's prefix
 * (`Network.addressPrefix`, BIP 173 / 350). Pure: derivation is deterministic.
 */
import { HDKey } from "@scure/bip32"
import { entropyToMnemonic, mnemonicToSeedSync, validateMnemonic } from "@scure/bip39"
import { wordlist } from "@scure/bip39/wordlists/english.js"
import { Address, NETWORK, OutScript, p2tr, p2wpkh } from "@scure/btc-signer"
import { Data, Result } from "effect"
import type { Network } from "../network.ts"

/** The two address kinds the wallet hands out: BIP 84 P2WPKH and BIP 86 P2TR. */
export type AddressKind = "p2wpkh" | "p2tr"
/** 0: receive (external), 1: change (internal), as BIP 44 `change`. */
export type KeyChain = 0 | 1

/** Where a wallet key lives: enough to derive it again (and to describe it in a PSBT). */
export interface KeyPath {
  readonly kind: AddressKind
  readonly chain: KeyChain
  readonly index: number
}

export class InvalidMnemonic extends Data.TaggedError("InvalidMnemonic")<{ readonly reason: string }> {}
export class InvalidAddress extends Data.TaggedError("InvalidAddress")<{ readonly address: string; readonly reason: string }> {}

/** BIP 44 coin type: 0 for mainnet, 1 for all test networks. */
export const coinType = (network: Network): number => network.name === "mainnet" ? 0 : 1

const purpose = (kind: AddressKind): number => kind === "p2wpkh" ? 84 : 86

/** `m/84'/coin'/0'/chain/index` or `m/86'/...`. */
export const pathString = (network: Network, p: KeyPath): string => `m/${purpose(p.kind)}'/${coinType(network)}'/0'/${p.chain}/${p.index}`

/** btc-signer's network description for ours (base58 bytes only matter for legacy formats we never emit). */
export const btcNetwork = (network: Network): typeof NETWORK =>
  network.name === "mainnet"
    ? { bech32: network.addressPrefix, pubKeyHash: 0x00, scriptHash: 0x05, wif: 0x80 }
    : { bech32: network.addressPrefix, pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef }

/** A 24-word mnemonic from 32 bytes of entropy (the node derives them from its seed). */
export const mnemonicFromEntropy = (entropy: Uint8Array): Result.Result<string, InvalidMnemonic> =>
  entropy.length === 16 || entropy.length === 32
    ? Result.succeed(entropyToMnemonic(entropy, wordlist))
    : Result.fail(new InvalidMnemonic({ reason: `entropy must be 16 or 32 bytes, got ${entropy.length}` }))

/** The BIP 39 seed of a mnemonic (checksum verified), with an optional passphrase. */
export const seedFromMnemonic = (mnemonic: string, passphrase = ""): Result.Result<Uint8Array, InvalidMnemonic> =>
  validateMnemonic(mnemonic, wordlist)
    ? Result.succeed(mnemonicToSeedSync(mnemonic, passphrase))
    : Result.fail(new InvalidMnemonic({ reason: "not a valid BIP 39 English mnemonic (words or checksum)" }))

/** One derived wallet key with its output script and address. */
export interface WalletKey {
  readonly path: KeyPath
  readonly privateKey: Uint8Array
  /** 33-byte compressed key (P2WPKH) or the 32-byte x-only internal key (P2TR, BIP 86: no script tree). */
  readonly publicKey: Uint8Array
  readonly scriptPubKey: Uint8Array
  readonly address: string
}

/**
 * The wallet's key tree for one network. Account keys are derived once; child keys on demand
 * (a caller keeps what it derived: `WalletState` holds the lookahead window).
 */
export class WalletKeys {
  private readonly accounts: { readonly [K in AddressKind]: HDKey }
  /** The master key's fingerprint (BIP 32), for PSBT key origins. */
  readonly fingerprint: number

  readonly network: Network

  private constructor(network: Network, master: HDKey) {
    this.network = network
    this.fingerprint = master.fingerprint
    this.accounts = {
      p2wpkh: master.derive(`m/84'/${coinType(network)}'/0'`),
      p2tr: master.derive(`m/86'/${coinType(network)}'/0'`)
    }
  }

  /** From a BIP 39 seed (64 bytes) or any 16..64-byte BIP 32 seed. */
  static fromSeed(seed: Uint8Array, network: Network): WalletKeys {
    return new WalletKeys(network, HDKey.fromMasterSeed(seed))
  }

  static fromMnemonic(mnemonic: string, network: Network, passphrase = ""): Result.Result<WalletKeys, InvalidMnemonic> {
    return Result.map(seedFromMnemonic(mnemonic, passphrase), (seed) => WalletKeys.fromSeed(seed, network))
  }

  derive(path: KeyPath): WalletKey {
    const node = this.accounts[path.kind].deriveChild(path.chain).deriveChild(path.index)
    const privateKey = node.privateKey
    const compressed = node.publicKey
    if (privateKey === null || compressed === null) throw new Error("unreachable: a private BIP 32 node has both keys")
    const net = btcNetwork(this.network)
    // BIP 84 pays the compressed key; BIP 86 (taproot) its x-only form.
    const publicKey = path.kind === "p2wpkh" ? compressed : compressed.subarray(1)
    const pay = path.kind === "p2wpkh" ? p2wpkh(publicKey, net) : p2tr(publicKey, undefined, net)
    return { path, privateKey, publicKey, scriptPubKey: pay.script, address: pay.address ?? "" }
  }
}

/** The output script an address of `network` pays (any standard kind), or why not. */
export const scriptFromAddress = (network: Network, address: string): Result.Result<Uint8Array, InvalidAddress> => {
  try {
    return Result.succeed(OutScript.encode(Address(btcNetwork(network)).decode(address)))
  } catch (e) {
    return Result.fail(new InvalidAddress({ address, reason: e instanceof Error ? e.message : String(e) }))
  }
}

/** The address of an output script on `network`, when it has one. */
export const addressFromScript = (network: Network, script: Uint8Array): string | undefined => {
  try {
    return Address(btcNetwork(network)).encode(OutScript.decode(script))
  } catch {
    return undefined
  }
}
