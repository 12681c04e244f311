/**
 * Command-line flags of the runnable node (`npm start`, `src/main.ts`). Parsing is a pure
 * function from argv to a config or a message, so it is tested without starting anything.
 */
import { parseArgs } from "node:util"
import { Result } from "effect"
import { fromHex } from "../protocol/bytes.ts"
import {
  type ChannelPolicy,
  defaultChannelPolicy,
  defaultLocalChannelConfig,
  FEERATE_FLOOR_PER_KW,
  type LocalChannelConfig,
  MAX_ACCEPTED_HTLCS_LIMIT
} from "../protocol/channel/config.ts"
import { nobleSecp256k1 } from "../protocol/crypto/secp256k1.ts"
import { defaultForwardingPolicy, type ForwardingPolicy } from "../protocol/payment/forward.ts"
import { networkByName, type NetworkName, NetworkNames } from "../protocol/network.ts"
import { sat } from "../protocol/units.ts"
import { formatAddress, parseAddress, type SocketAddress } from "../services/Transport.ts"
import type { Address } from "../protocol/messages/address.ts"
import { aliasBytes, ownAddresses, parseAnnounceAddress, parseColor } from "../protocol/gossip/own.ts"
import type { FixedChannelSecrets } from "../layers/signer/SeedChannelSigner.ts"
import type { StoreSelection } from "../layers/store/SqlStoreChoice.ts"

export interface NodeConfig {
  /** Directory of the node seed and the channel store (`DIR/channels`). Created on first start. */
  readonly dataDir: string
  /** Where Lightning peers connect (BOLT 8 over TCP). Port 0 picks a free port. */
  readonly listen: SocketAddress
  /** Where the HTTP control API listens. Port 0 picks a free port. */
  readonly api: SocketAddress
  /** The Bitcoin network: the `init` chain hash, the invoice prefix, the channels' chain. */
  readonly network: NetworkName
  /** The control API's bearer token file; `DIR/api_token` when not given. Created (0600) if missing. */
  readonly apiTokenFile?: string
  /** A bitcoind JSON-RPC endpoint (credentials in the URL, or `cookieFile`): the node follows that chain (issue 9). */
  readonly bitcoind?: { readonly url: string; readonly cookieFile?: string }
  /**
   * `--wallet-birthday HEIGHT` (with `--bitcoind-rpc`): a seed used before, restored: the wallet's
   * first start scans the chain from this height (its coins since then are found). Ignored once
   * the wallet has a stored state.
   */
  readonly walletBirthday?: number
  /** Hooks for external conformance suites (`--dev`, regtest only): absent unless `--dev` was given. */
  readonly dev?: DevConfig
  /** `--fee-base-msat`, `--fee-ppm`, `--cltv-delta`: our forwarding policy (each absent unless given). */
  readonly forwarding?: ForwardingFlags
  /** `--store files|sqlite|postgres` (with `--postgres-url`): where the node keeps its data; absent = files. */
  readonly store?: StoreSelection
  /** `--otlp-endpoint URL`: export spans over OTLP/HTTP (`layers/observability/OtlpTracing.ts`); absent = none. */
  readonly otlpEndpoint?: string
  /** `--alias`, `--color`, `--announce-addr`: our `node_announcement` (BOLT 7); absent unless one was given. */
  readonly announce?: AnnounceFlags
}

/** What our `node_announcement` carries (BOLT 7), checked by `protocol/gossip/own.ts`; each absent unless given. */
export interface AnnounceFlags {
  /** `--alias TEXT`: UTF-8, at most 32 bytes (default: the node id's first 10 bytes in hex). */
  readonly alias?: string
  /** `--color RRGGBB`: `rgb_color`, red first. */
  readonly color?: readonly [number, number, number]
  /** `--announce-addr HOST:PORT`, repeatable: where peers can reach us, ascending by type (BOLT 7). */
  readonly addresses?: ReadonlyArray<Address>
}

/** The forwarding policy flags (BOLT 7 `channel_update` fields, enforced by the forwarder, BOLT 4). */
export interface ForwardingFlags {
  readonly feeBaseMsat?: number
  readonly feeProportionalMillionths?: number
  readonly cltvExpiryDelta?: number
}

/**
 * What `--dev` (with `--network regtest`) allows: settings test frameworks that drive the node
 * through scripted exchanges need (issue 13). Each is absent unless its flag was given.
 */
export interface DevConfig {
  /** `--dev-node-secret HEX`: the node key (BOLT 1 node id, BOLT 8 static key) instead of the seed's. */
  readonly nodeSecret?: Uint8Array
  /** `--dev-wallet-seed HEX`: the on-chain wallet's BIP 32 seed (16 to 64 bytes) instead of the node seed's. */
  readonly walletSeed?: Uint8Array
  /** `--funding-confirms N`: the `minimum_depth` we ask in `accept_channel` (BOLT 2), at least 1. */
  readonly fundingConfirms?: number
  /** `--min-to-self-delay N`: the `to_self_delay` we impose on the peer's outputs (BOLT 2 `open_channel`/`accept_channel`). */
  readonly minToSelfDelay?: number
  /** `--max-accepted-htlcs N`: the `max_accepted_htlcs` we announce (1 to 483, BOLT 2). */
  readonly maxAcceptedHtlcs?: number
  /** `--min-feerate N`: the lowest `feerate_per_kw` we accept from a funder, in sat/kw (at least the floor 253). */
  readonly minFeeratePerKw?: number
  /** `--channel-reserve-sat N`: the `channel_reserve_satoshis` we ask of every peer (BOLT 2), instead of 1% of the capacity. */
  readonly channelReserveSat?: number
  /**
   * `--dev-channel-secrets FUNDING,REVOCATION,PAYMENT,DELAYED,HTLC,SHACHAIN_SEED`: every channel's
   * base secrets (BOLT 3) and per-commitment seed, instead of the seed's per-channel keys.
   */
  readonly channelSecrets?: FixedChannelSecrets
}

/** Our feerate estimate when none is configured (the channel manager's default), sat/kw. */
export const DEFAULT_FEERATE_ESTIMATE_PER_KW = 2500

/**
 * The channel manager's settings (`ChannelManagerConfig.channelConfig` and `.policy`) for the dev
 * flags, over the defaults: `--funding-confirms` is `minimumDepth`, `--min-to-self-delay` is
 * `toSelfDelay`, `--max-accepted-htlcs` is `maxAcceptedHtlcs`. The policy's feerate floor is a
 * percentage of the estimate, so `--min-feerate N` sets the largest percentage whose floor is
 * at most N (rounding down: N itself is always accepted; the relay floor 253 still applies).
 */
export const devChannelSettings = (
  dev: DevConfig,
  feerateEstimatePerKw: number = DEFAULT_FEERATE_ESTIMATE_PER_KW
): { readonly channelConfig: LocalChannelConfig; readonly policy: ChannelPolicy } => ({
  channelConfig: {
    ...defaultLocalChannelConfig,
    ...(dev.fundingConfirms === undefined ? {} : { minimumDepth: dev.fundingConfirms }),
    ...(dev.minToSelfDelay === undefined ? {} : { toSelfDelay: dev.minToSelfDelay }),
    ...(dev.maxAcceptedHtlcs === undefined ? {} : { maxAcceptedHtlcs: dev.maxAcceptedHtlcs }),
    ...(dev.channelReserveSat === undefined ? {} : { channelReserve: sat(BigInt(dev.channelReserveSat)) })
  },
  policy: {
    ...defaultChannelPolicy,
    ...(dev.minFeeratePerKw === undefined ? {} : {
      feerateMinPercent: Math.min(
        defaultChannelPolicy.feerateMinPercent,
        Math.floor((dev.minFeeratePerKw * 100) / feerateEstimatePerKw)
      )
    })
  }
})

export const defaultConfig: NodeConfig = {
  dataDir: "./.lightning",
  listen: { host: "127.0.0.1", port: 9735 },
  api: { host: "127.0.0.1", port: 9736 },
  network: "regtest"
}

export const usage = `Usage: npm start -- [--data-dir DIR] [--listen HOST:PORT] [--api HOST:PORT] [--network NAME]
       node src/main.ts [same flags]

Runs an effect-lightning node: accepts Lightning peers on --listen and serves the HTTP
control API (JSON, OpenAPI document at /openapi.json) on --api. SIGINT/SIGTERM stop it.

  --data-dir DIR      node seed and channel store (default ${defaultConfig.dataDir})
  --listen HOST:PORT  address for Lightning peers (default ${formatAddress(defaultConfig.listen)})
  --api HOST:PORT     address for the control API (default ${formatAddress(defaultConfig.api)});
                      every request needs the bearer token (--api-token-file)
  --network NAME      ${NetworkNames.join(", ")} (default ${defaultConfig.network});
                      testnet is testnet3. Sets the chain hash sent in init and
                      checked in open_channel, and the invoice prefix
  --api-token-file F  the control API's bearer token (default DIR/api_token,
                      created with mode 0600 at first start)
  --bitcoind-rpc URL  follow a bitcoind (JSON-RPC) chain: funding confirmations
                      and closes come from it, transactions go out through it;
                      credentials in the URL (http://user:pass@127.0.0.1:18443)
  --bitcoind-cookie F bitcoind's cookie file instead of credentials in the URL
  --wallet-birthday H the wallet's first start scans the chain from height H
                      (a restored seed used before; default: from the tip)
  --fee-base-msat N   our forwarding fee base (default ${defaultForwardingPolicy.feeBaseMsat} msat)
  --fee-ppm N         our proportional forwarding fee (default ${defaultForwardingPolicy.feeProportionalMillionths} millionths)
  --cltv-delta N      our cltv_expiry_delta for forwards (default ${defaultForwardingPolicy.cltvExpiryDelta} blocks)
  --store KIND        where channels, payments and the graph are kept: files
                      (default: DIR/channels, DIR/payments, DIR/graph), sqlite
                      (DIR/channels.sqlite...) or postgres (schemas channels,
                      payments, graph of --postgres-url's database)
  --postgres-url URL  postgres://user:password@host:port/database (with --store
                      postgres or --migrate-store)
  --alias TEXT        our node_announcement's alias (UTF-8, at most 32 bytes;
                      default: the node id's first 10 bytes in hex)
  --color RRGGBB      our node_announcement's color (hex, default 3399ff)
  --announce-addr HOST:PORT  an address we announce (repeatable): IPv4, [IPv6],
                      one DNS hostname, or a Tor v3 NAME.onion; port not 0
  --otlp-endpoint URL export spans (payments, HTLCs, forwards) over OTLP/HTTP to a
                      collector, e.g. http://127.0.0.1:4318 (/v1/traces appended)
  --migrate-store FROM TO  copy every key of the node's stores from one kind to
                      another (files, sqlite, postgres; the target must be empty),
                      verify keys and bytes, print the counts and exit. Stop the
                      node first; then start it with --store TO
  -h, --help          print this help

Hooks for conformance test suites, refused unless --dev and --network regtest:
  --dev               allow the flags below (never in production)
  --dev-node-secret HEX  the node key (32 bytes, hex) instead of the seed's
  --dev-wallet-seed HEX  the on-chain wallet's BIP 32 seed (16 to 64 bytes, hex)
                         instead of the node seed's (the wallet runs with --bitcoind-rpc)
  --dev-channel-secrets FUNDING,REVOCATION,PAYMENT,DELAYED,HTLC,SHACHAIN_SEED
                         every channel's base secrets and per-commitment seed
                         (six 32-byte hex values) instead of the seed's
  --funding-confirms N   the minimum_depth we ask of channels we accept (default ${defaultLocalChannelConfig.minimumDepth})
  --min-to-self-delay N  the to_self_delay we impose on the peer (default ${defaultLocalChannelConfig.toSelfDelay})
  --max-accepted-htlcs N the max_accepted_htlcs we announce, 1 to ${MAX_ACCEPTED_HTLCS_LIMIT} (default ${defaultLocalChannelConfig.maxAcceptedHtlcs})
  --min-feerate N        accept funders' feerates from N sat/kw up (at least ${FEERATE_FLOOR_PER_KW})
  --channel-reserve-sat N  the channel_reserve_satoshis we ask of peers (default 1% of the capacity)
`

/** What the command line asks for: run with a config, or print the help. */
export type FlagsResult =
  | { readonly _tag: "Run"; readonly config: NodeConfig }
  | { readonly _tag: "Help" }
  | { readonly _tag: "MigrateStore"; readonly dataDir: string; readonly from: StoreSelection; readonly to: StoreSelection }

/** Parses argv (without the node and script paths). The failure is a one-line message for the user. */
export const parseFlags = (argv: ReadonlyArray<string>): Result.Result<FlagsResult, string> => {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    // node:util's messages go on with advice about positionals, which this command takes none of.
    const message = error instanceof Error ? error.message : String(error)
    return Result.fail(message.split(". ")[0] ?? message)
  }
  const { values, positionals } = parsed
  if (values.help === true) return Result.succeed({ _tag: "Help" })
  if (values["migrate-store"] !== undefined) return migrateStoreFlags(values, positionals)
  if (positionals.length > 0) return Result.fail(`unexpected argument '${positionals[0]}'`)

  const address = (flag: string, text: string | undefined, fallback: SocketAddress): Result.Result<SocketAddress, string> => {
    if (text === undefined) return Result.succeed(fallback)
    const a = parseAddress(text)
    return a === undefined
      ? Result.fail(`--${flag} expects HOST:PORT with a port from 0 to 65535 (IPv6 as [::1]:PORT), got '${text}'`)
      : Result.succeed(a)
  }
  const dataDir = values["data-dir"] ?? defaultConfig.dataDir
  if (dataDir.length === 0) return Result.fail("--data-dir must not be empty")
  const listen = address("listen", values.listen, defaultConfig.listen)
  if (Result.isFailure(listen)) return Result.fail(listen.failure)
  const api = address("api", values.api, defaultConfig.api)
  if (Result.isFailure(api)) return Result.fail(api.failure)
  const network = values.network === undefined ? defaultConfig.network : networkByName(values.network)?.name
  if (network === undefined) {
    return Result.fail(`--network expects one of ${NetworkNames.join(", ")}, got '${values.network ?? ""}'`)
  }
  const apiTokenFile = values["api-token-file"]
  if (apiTokenFile !== undefined && apiTokenFile.length === 0) return Result.fail("--api-token-file must not be empty")
  const bitcoind = bitcoindFlags(values["bitcoind-rpc"], values["bitcoind-cookie"])
  if (Result.isFailure(bitcoind)) return Result.fail(bitcoind.failure)
  const birthdayText = values["wallet-birthday"]
  if (birthdayText !== undefined && bitcoind.success === undefined) return Result.fail("--wallet-birthday needs --bitcoind-rpc")
  if (birthdayText !== undefined && !/^\d{1,7}$/.test(birthdayText)) return Result.fail(`--wallet-birthday expects a block height, got '${birthdayText}'`)
  const walletBirthday = birthdayText === undefined ? undefined : Number(birthdayText)
  const dev = devFlags(values, network)
  if (Result.isFailure(dev)) return Result.fail(dev.failure)
  const forwarding = forwardingFlags(values)
  if (Result.isFailure(forwarding)) return Result.fail(forwarding.failure)
  const store = storeFlags(values["store"], values["postgres-url"])
  if (Result.isFailure(store)) return Result.fail(store.failure)
  const announce = announceFlags(values)
  if (Result.isFailure(announce)) return Result.fail(announce.failure)
  const otlpEndpoint = values["otlp-endpoint"]
  if (otlpEndpoint !== undefined && !isHttpUrl(otlpEndpoint)) {
    return Result.fail(`--otlp-endpoint expects an http or https URL such as http://127.0.0.1:4318, got '${otlpEndpoint}'`)
  }
  return Result.succeed({
    _tag: "Run",
    config: {
      dataDir,
      listen: listen.success,
      api: api.success,
      network,
      ...(apiTokenFile === undefined ? {} : { apiTokenFile }),
      ...(bitcoind.success === undefined ? {} : { bitcoind: bitcoind.success }),
      ...(walletBirthday === undefined ? {} : { walletBirthday }),
      ...(dev.success === undefined ? {} : { dev: dev.success }),
      ...(forwarding.success === undefined ? {} : { forwarding: forwarding.success }),
      ...(store.success === undefined ? {} : { store: store.success }),
      ...(announce.success === undefined ? {} : { announce: announce.success }),
      ...(otlpEndpoint === undefined ? {} : { otlpEndpoint })
    }
  })
}

/** `--alias`, `--color` and `--announce-addr` (repeatable), checked against BOLT 7's rules for the origin node. */
const announceFlags = (values: ReturnType<typeof parse>["values"]): Result.Result<AnnounceFlags | undefined, string> => {
  const alias = values.alias
  if (alias !== undefined) {
    const bytes = aliasBytes(alias)
    if (Result.isFailure(bytes)) return Result.fail(`--alias: ${bytes.failure}`)
  }
  const color = values.color === undefined ? undefined : parseColor(values.color)
  if (color !== undefined && Result.isFailure(color)) return Result.fail(`--color expects RRGGBB in hex, got '${values.color ?? ""}'`)
  const parsed: Array<Address> = []
  for (const text of values["announce-addr"] ?? []) {
    const a = parseAnnounceAddress(text)
    if (Result.isFailure(a)) return Result.fail(`--announce-addr: ${a.failure}`)
    parsed.push(a.success)
  }
  const addresses = ownAddresses(parsed)
  if (Result.isFailure(addresses)) return Result.fail(`--announce-addr: ${addresses.failure}`)
  if (alias === undefined && color === undefined && parsed.length === 0) return Result.succeed(undefined)
  return Result.succeed({
    ...(alias === undefined ? {} : { alias }),
    ...(color === undefined ? {} : { color: color.success }),
    ...(parsed.length === 0 ? {} : { addresses: addresses.success })
  })
}

const STORE_KINDS = ["files", "sqlite", "postgres"] as const

/** A store kind with the Postgres URL it needs (`--postgres-url`, only with postgres). */
const storeSelection = (flag: string, kind: string, url: string | undefined): Result.Result<StoreSelection, string> => {
  switch (kind) {
    case "files":
    case "sqlite":
      return Result.succeed({ kind })
    case "postgres": {
      if (url === undefined) return Result.fail(`${flag} postgres needs --postgres-url`)
      if (!/^postgres(ql)?:\/\/[^\s]+$/.test(url)) return Result.fail("--postgres-url expects postgres://user:password@host:port/database") // never echoed: it may hold a password
      return Result.succeed({ kind, url })
    }
    default:
      return Result.fail(`${flag} expects one of ${STORE_KINDS.join(", ")}, got '${kind}'`)
  }
}

/** `--store KIND` and `--postgres-url URL` (absent: files, undefined). */
const storeFlags = (kind: string | undefined, url: string | undefined): Result.Result<StoreSelection | undefined, string> => {
  if (kind === undefined) return url === undefined ? Result.succeed(undefined) : Result.fail("--postgres-url needs --store postgres (or --migrate-store)")
  const selection = storeSelection("--store", kind, url)
  if (Result.isFailure(selection)) return Result.fail(selection.failure)
  if (selection.success.kind !== "postgres" && url !== undefined) return Result.fail("--postgres-url needs --store postgres (or --migrate-store)")
  return Result.succeed(selection.success.kind === "files" ? undefined : selection.success)
}

/** `--migrate-store FROM TO` (TO is the one positional), with `--data-dir` and `--postgres-url`. */
const migrateStoreFlags = (
  values: ReturnType<typeof parse>["values"],
  positionals: ReadonlyArray<string>
): Result.Result<FlagsResult, string> => {
  const fromKind = values["migrate-store"] ?? ""
  const toKind = positionals[0]
  if (toKind === undefined || positionals.length !== 1) return Result.fail("--migrate-store expects FROM TO, e.g. --migrate-store files sqlite")
  if (values["store"] !== undefined) return Result.fail("--migrate-store takes the kinds as FROM TO, not --store")
  const from = storeSelection("--migrate-store", fromKind, values["postgres-url"])
  if (Result.isFailure(from)) return Result.fail(from.failure)
  const to = storeSelection("--migrate-store", toKind, values["postgres-url"])
  if (Result.isFailure(to)) return Result.fail(to.failure)
  if (fromKind === toKind) return Result.fail(`--migrate-store FROM and TO are both ${fromKind}`)
  const dataDir = values["data-dir"] ?? defaultConfig.dataDir
  if (dataDir.length === 0) return Result.fail("--data-dir must not be empty")
  return Result.succeed({ _tag: "MigrateStore", dataDir, from: from.success, to: to.success })
}

/** A whole number flag within bounds (absent: undefined). */
const wholeNumber = (flag: string, text: string | undefined, minimum: number, maximum: number): Result.Result<number | undefined, string> => {
  if (text === undefined) return Result.succeed(undefined)
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN
  return Number.isSafeInteger(n) && n >= minimum && n <= maximum
    ? Result.succeed(n)
    : Result.fail(`--${flag} expects a whole number from ${minimum} to ${maximum}, got '${text}'`)
}

/** `--fee-base-msat`, `--fee-ppm` (u32 in `channel_update`) and `--cltv-delta` (u16). */
const forwardingFlags = (values: ReturnType<typeof parse>["values"]): Result.Result<ForwardingFlags | undefined, string> => {
  const base = wholeNumber("fee-base-msat", values["fee-base-msat"], 0, 0xffffffff)
  if (Result.isFailure(base)) return Result.fail(base.failure)
  const ppm = wholeNumber("fee-ppm", values["fee-ppm"], 0, 0xffffffff)
  if (Result.isFailure(ppm)) return Result.fail(ppm.failure)
  const delta = wholeNumber("cltv-delta", values["cltv-delta"], 1, 0xffff)
  if (Result.isFailure(delta)) return Result.fail(delta.failure)
  if (base.success === undefined && ppm.success === undefined && delta.success === undefined) return Result.succeed(undefined)
  return Result.succeed({
    ...(base.success === undefined ? {} : { feeBaseMsat: base.success }),
    ...(ppm.success === undefined ? {} : { feeProportionalMillionths: ppm.success }),
    ...(delta.success === undefined ? {} : { cltvExpiryDelta: delta.success })
  })
}

/** Our forwarding policy: the defaults with what the flags say. */
export const forwardingPolicyOf = (flags: ForwardingFlags | undefined): ForwardingPolicy => ({ ...defaultForwardingPolicy, ...flags })

/** The flags only `--dev` on regtest allows. */
const DEV_FLAGS = ["dev-node-secret", "dev-channel-secrets", "funding-confirms", "min-to-self-delay", "max-accepted-htlcs", "min-feerate", "channel-reserve-sat", "dev-wallet-seed"] as const

/** `--dev` and the flags it allows: refused unless both `--dev` and `--network regtest` are given. */
const devFlags = (
  values: ReturnType<typeof parse>["values"],
  network: NetworkName
): Result.Result<DevConfig | undefined, string> => {
  const given = DEV_FLAGS.filter((flag) => values[flag] !== undefined)
  if (values.dev !== true) {
    return given.length === 0 ? Result.succeed(undefined) : Result.fail(`--${given[0]} needs --dev (and --network regtest)`)
  }
  // Explicitly: a change of the default network must not turn a dev command line into another chain's.
  if (values.network === undefined || network !== "regtest") {
    return Result.fail(`--dev needs --network regtest${values.network === undefined ? "" : `, got '${values.network}'`}`)
  }
  const integer = (flag: typeof DEV_FLAGS[number], minimum: number, maximum: number) => wholeNumber(flag, values[flag], minimum, maximum)
  const fundingConfirms = integer("funding-confirms", 1, 0xffffffff)
  if (Result.isFailure(fundingConfirms)) return Result.fail(fundingConfirms.failure)
  const minToSelfDelay = integer("min-to-self-delay", 0, 0xffff)
  if (Result.isFailure(minToSelfDelay)) return Result.fail(minToSelfDelay.failure)
  const maxAcceptedHtlcs = integer("max-accepted-htlcs", 1, MAX_ACCEPTED_HTLCS_LIMIT)
  if (Result.isFailure(maxAcceptedHtlcs)) return Result.fail(maxAcceptedHtlcs.failure)
  const minFeeratePerKw = integer("min-feerate", FEERATE_FLOOR_PER_KW, 0xffffffff)
  if (Result.isFailure(minFeeratePerKw)) return Result.fail(minFeeratePerKw.failure)
  const channelReserveSat = integer("channel-reserve-sat", 0, 2_100_000_000_000_000) // at most 21 million bitcoin
  if (Result.isFailure(channelReserveSat)) return Result.fail(channelReserveSat.failure)
  const secretHex = values["dev-node-secret"]
  let nodeSecret: Uint8Array | undefined
  if (secretHex !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(secretHex)) return Result.fail(`--dev-node-secret expects 32 bytes in hex (64 digits)`)
    nodeSecret = fromHex(secretHex.toLowerCase())
    if (!nobleSecp256k1.isValidSecret(nodeSecret)) return Result.fail("--dev-node-secret is not a valid secp256k1 secret key")
  }
  const channelSecrets = devChannelSecrets(values["dev-channel-secrets"])
  if (Result.isFailure(channelSecrets)) return Result.fail(channelSecrets.failure)
  const walletSeedHex = values["dev-wallet-seed"]
  if (walletSeedHex !== undefined && !/^([0-9a-fA-F]{2}){16,64}$/.test(walletSeedHex)) {
    return Result.fail("--dev-wallet-seed expects 16 to 64 bytes in hex (32 to 128 digits)")
  }
  return Result.succeed({
    ...(nodeSecret === undefined ? {} : { nodeSecret }),
    ...(walletSeedHex === undefined ? {} : { walletSeed: fromHex(walletSeedHex.toLowerCase()) }),
    ...(channelSecrets.success === undefined ? {} : { channelSecrets: channelSecrets.success }),
    ...(fundingConfirms.success === undefined ? {} : { fundingConfirms: fundingConfirms.success }),
    ...(minToSelfDelay.success === undefined ? {} : { minToSelfDelay: minToSelfDelay.success }),
    ...(maxAcceptedHtlcs.success === undefined ? {} : { maxAcceptedHtlcs: maxAcceptedHtlcs.success }),
    ...(minFeeratePerKw.success === undefined ? {} : { minFeeratePerKw: minFeeratePerKw.success }),
    ...(channelReserveSat.success === undefined ? {} : { channelReserveSat: channelReserveSat.success })
  })
}

/** An http or https URL (`--otlp-endpoint`). */
const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

/** `--dev-channel-secrets`: six 32-byte hex values; the five base secrets must be valid secp256k1 keys. */
const devChannelSecrets = (text: string | undefined): Result.Result<FixedChannelSecrets | undefined, string> => {
  if (text === undefined) return Result.succeed(undefined)
  const parts = text.split(",")
  const names = ["FUNDING", "REVOCATION", "PAYMENT", "DELAYED", "HTLC", "SHACHAIN_SEED"] as const
  if (parts.length !== names.length || !parts.every((p) => /^[0-9a-fA-F]{64}$/.test(p))) {
    return Result.fail(`--dev-channel-secrets expects ${names.join(",")}: six 32-byte values in hex (64 digits each)`)
  }
  const [funding, revocation, payment, delayedPayment, htlc, shachainSeed] = parts.map((p) => fromHex(p.toLowerCase()))
  if (funding === undefined || revocation === undefined || payment === undefined || delayedPayment === undefined || htlc === undefined || shachainSeed === undefined) {
    return Result.fail("--dev-channel-secrets expects six values")
  }
  const bases = [funding, revocation, payment, delayedPayment, htlc]
  const bad = bases.findIndex((s) => !nobleSecp256k1.isValidSecret(s))
  if (bad >= 0) return Result.fail(`--dev-channel-secrets: ${names[bad] ?? ""} is not a valid secp256k1 secret key`)
  return Result.succeed({ funding, revocation, payment, delayedPayment, htlc, shachainSeed })
}

/** `--bitcoind-rpc URL` (http or https) and `--bitcoind-cookie FILE` (only with a URL). */
const bitcoindFlags = (url: string | undefined, cookieFile: string | undefined): Result.Result<NodeConfig["bitcoind"], string> => {
  if (url === undefined) return cookieFile === undefined ? Result.succeed(undefined) : Result.fail("--bitcoind-cookie needs --bitcoind-rpc")
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Result.fail(`--bitcoind-rpc expects a URL such as http://user:pass@127.0.0.1:18443, got '${url}'`)
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return Result.fail(`--bitcoind-rpc expects an http or https URL, got '${url}'`)
  if (cookieFile !== undefined && cookieFile.length === 0) return Result.fail("--bitcoind-cookie must not be empty")
  return Result.succeed({ url, ...(cookieFile === undefined ? {} : { cookieFile }) })
}

const parse = (argv: ReadonlyArray<string>) =>
  parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      "data-dir": { type: "string" },
      listen: { type: "string" },
      api: { type: "string" },
      network: { type: "string" },
      "api-token-file": { type: "string" },
      "bitcoind-rpc": { type: "string" },
      "bitcoind-cookie": { type: "string" },
      "wallet-birthday": { type: "string" },
      dev: { type: "boolean" },
      "dev-node-secret": { type: "string" },
      "dev-wallet-seed": { type: "string" },
      "funding-confirms": { type: "string" },
      "min-to-self-delay": { type: "string" },
      "channel-reserve-sat": { type: "string" },
      "max-accepted-htlcs": { type: "string" },
      "min-feerate": { type: "string" },
      "fee-base-msat": { type: "string" },
      "fee-ppm": { type: "string" },
      "cltv-delta": { type: "string" },
      store: { type: "string" },
      "postgres-url": { type: "string" },
      "migrate-store": { type: "string" },
      "otlp-endpoint": { type: "string" },
      alias: { type: "string" },
      color: { type: "string" },
      "announce-addr": { type: "string", multiple: true },
      "dev-channel-secrets": { type: "string" },
      help: { type: "boolean", short: "h" }
    }
  })
