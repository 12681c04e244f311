/**
 * The `effect-lightning` command line (Effect's CLI module, `effect/cli`): `start` runs the node
 * daemon (the same as `npm start`); every other command is a client of a running node's control
 * API, through the typed client of the same `HttpApi` declaration (`ControlApiClient`), with the
 * node's bearer token read from `<data-dir>/api_token` or `--api-token-file`. Human-readable
 * output by default, the API's JSON with `--json`. `--help` on every command.
 *
 * Exit codes: 0 success; 1 the node refused the request (its error is printed) or failed;
 * 2 bad arguments; 3 the node cannot be reached; 4 the API token is missing, unreadable or
 * refused (401).
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Console, Data, Effect, Option, Result, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { FetchHttpClient } from "effect/http"
import { defaultApiTokenFile, readApiToken } from "../api/ApiToken.ts"
import * as ControlApiClient from "../api/ControlApiClient.ts"
import type { Channel, Peer } from "../api/schemas.ts"
import { type BlindedInvoiceJson, BlindedPaymentJson, type InvoiceStatusJson, type PaymentJson } from "../api/PaymentsApi.ts"
import { defaultConfig, type NodeConfig } from "../daemon/NodeFlags.ts"
import { fromHex, toHex } from "../protocol/bytes.ts"
import { type NetworkName, NetworkNames } from "../protocol/network.ts"
import { decodeBlindedPath } from "../protocol/onion/blinding.ts"
import { formatAddress, parseAddress, type SocketAddress } from "../services/Transport.ts"
import { json, keyValues, orDash, table } from "./output.ts"

/** A failed command: the message printed (on stderr) and the process's exit code. */
export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly message: string; readonly exitCode: number }> {}

export const EXIT_REFUSED = 1
export const EXIT_USAGE = 2
export const EXIT_UNREACHABLE = 3
export const EXIT_UNAUTHORIZED = 4

// --- shared flags --------------------------------------------------------------------------

const addressFlag = (name: string, fallback: SocketAddress, description: string) =>
  Flag.String(name).pipe(
    Flag.withDefault(formatAddress(fallback)),
    Flag.withDescription(description),
    Flag.withMetavar("HOST:PORT"),
    Flag.filterMap(
      (text) => Option.fromNullishOr(parseAddress(text)),
      (text) => `expected HOST:PORT with a port from 0 to 65535 (IPv6 as [::1]:PORT), got '${text}'`
    )
  )

const dataDirFlag = Flag.String("data-dir").pipe(
  Flag.withDefault(defaultConfig.dataDir),
  Flag.withMetavar("DIR"),
  Flag.withDescription("the node's data directory (its seed, channels and api_token)")
)

const tokenFileFlag = Flag.String("api-token-file").pipe(
  Flag.optional,
  Flag.withMetavar("FILE"),
  Flag.withDescription("the control API's bearer token file (default DIR/api_token)")
)

/** The flags of every client command. */
const clientFlags = {
  api: Flag.String("api").pipe(
    Flag.withDefault(formatAddress(defaultConfig.api)),
    Flag.withMetavar("HOST:PORT|URL"),
    Flag.withDescription("the node's control API (HOST:PORT, or an http(s) URL, e.g. behind a TLS proxy)")
  ),
  dataDir: dataDirFlag,
  apiTokenFile: tokenFileFlag,
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("print the API's JSON instead of a table"))
} as const

type ClientFlags = {
  readonly api: string
  readonly dataDir: string
  readonly apiTokenFile: Option.Option<string>
  readonly json: boolean
}

// --- the client ----------------------------------------------------------------------------

const baseUrlOf = (api: string): Result.Result<string, string> => {
  if (/^https?:\/\//i.test(api)) {
    try {
      return Result.succeed(new URL(api).toString().replace(/\/+$/, ""))
    } catch {
      return Result.fail(`--api: not a URL: '${api}'`)
    }
  }
  const address = parseAddress(api)
  return address === undefined
    ? Result.fail(`--api expects HOST:PORT or an http(s) URL, got '${api}'`)
    : Result.succeed(`http://${formatAddress(address)}`)
}

type Client = ControlApiClient.ControlApiClient

const tagOf = (u: unknown): string | undefined =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" ? u._tag : undefined
const field = (u: unknown, name: string): unknown => (typeof u === "object" && u !== null ? Reflect.get(u, name) : undefined)

/** A client-side failure as a message and an exit code. */
const describeFailure = (error: unknown, baseUrl: string): CliFailure => {
  const tag = tagOf(error)
  if (tag === "HttpClientError") {
    const reason = field(error, "reason")
    const reasonTag = tagOf(reason)
    const status = field(field(reason, "response"), "status")
    if (status === 401) {
      return new CliFailure({ exitCode: EXIT_UNAUTHORIZED, message: `the node at ${baseUrl} refused the API token (401): check --api-token-file / --data-dir` })
    }
    if (reasonTag === "TransportError") {
      const cause = field(reason, "cause")
      const detail = cause instanceof Error ? `${cause.message}${cause.cause instanceof Error ? `: ${cause.cause.message}` : ""}` : ""
      return new CliFailure({
        exitCode: EXIT_UNREACHABLE,
        message: `cannot reach the node's control API at ${baseUrl}${detail === "" ? "" : ` (${detail})`}: is the node running (effect-lightning start)?`
      })
    }
    return new CliFailure({ exitCode: EXIT_REFUSED, message: `unexpected answer from ${baseUrl}: ${String(field(error, "message") ?? reasonTag)}` })
  }
  if (tag === "SchemaError") return new CliFailure({ exitCode: EXIT_USAGE, message: `invalid argument: ${String(field(error, "message"))}` })
  if (tag !== undefined) {
    const message = field(error, "message")
    return new CliFailure({ exitCode: EXIT_REFUSED, message: `${tag}: ${typeof message === "string" && message !== "" ? message : tag}` })
  }
  return new CliFailure({ exitCode: EXIT_REFUSED, message: error instanceof Error ? error.message : String(error) })
}

/** Runs `use` with a client of the node the flags designate; prints what it returns. */
const withClient = <E>(flags: ClientFlags, use: (client: Client) => Effect.Effect<string, E>) =>
  Effect.gen(function*() {
    const baseUrl = baseUrlOf(flags.api)
    if (Result.isFailure(baseUrl)) return yield* new CliFailure({ exitCode: EXIT_USAGE, message: baseUrl.failure })
    const tokenFile = Option.getOrElse(flags.apiTokenFile, () => defaultApiTokenFile(flags.dataDir))
    const token = yield* readApiToken(tokenFile).pipe(
      Effect.provide(NodeFileSystem.layer),
      Effect.mapError((e) =>
        new CliFailure({
          exitCode: EXIT_UNAUTHORIZED,
          message: `cannot read the API token: ${e.message} (the node creates DIR/api_token at first start: pass --data-dir DIR or --api-token-file FILE)`
        })
      )
    )
    const client = yield* ControlApiClient.make({ baseUrl: baseUrl.success, token })
    const output = yield* use(client).pipe(Effect.mapError((e) => describeFailure(e, baseUrl.success)))
    if (output !== "") yield* Console.log(output)
  }).pipe(Effect.provide(FetchHttpClient.layer))

// --- human output --------------------------------------------------------------------------

const peerTable = (peers: ReadonlyArray<Peer>) =>
  table(peers, [
    { header: "NODE ID", cell: (p) => p.nodeId },
    { header: "ADDRESS", cell: (p) => p.address },
    { header: "DIRECTION", cell: (p) => p.direction },
    { header: "FEATURES", cell: (p) => p.negotiatedFeatures.join(",") }
  ])

const channelTable = (channels: ReadonlyArray<Channel>) =>
  table(channels, [
    { header: "CHANNEL ID", cell: (c) => c.channelId },
    { header: "PEER", cell: (c) => `${c.nodeId.slice(0, 16)}...` },
    { header: "PHASE", cell: (c) => c.phase },
    { header: "CAPACITY SAT", cell: (c) => orDash(c.capacitySat) },
    { header: "LOCAL MSAT", cell: (c) => orDash(c.balance?.localMsat) },
    { header: "REMOTE MSAT", cell: (c) => orDash(c.balance?.remoteMsat) },
    { header: "SCID", cell: (c) => orDash(c.shortChannelId) }
  ], 66)

const channelBlock = (c: Channel) =>
  keyValues([
    ["channel id", c.channelId],
    ["peer", c.nodeId],
    ["phase", c.phase],
    ["connection", orDash(c.connection)],
    ["type", orDash(c.channelType)],
    ["funder", orDash(c.funder)],
    ["capacity", c.capacitySat === null ? "-" : `${c.capacitySat} sat`],
    ["balance", c.balance === null ? "-" : `local ${c.balance.localMsat} msat, remote ${c.balance.remoteMsat} msat, ${c.balance.htlcs} HTLCs`],
    ["funding output", c.fundingOutput === null ? "-" : `${c.fundingOutput.amountSat} sat to ${c.fundingOutput.scriptPubKey}`],
    ["funding outpoint", orDash(c.fundingOutpoint)],
    ["depth", c.minimumDepth === null ? orDash(c.depth) : `${orDash(c.depth)} of ${c.minimumDepth}`],
    ["short channel id", orDash(c.shortChannelId)],
    ["closed", c.closed === null ? "-" : `${c.closed.reason}: ${c.closed.detail}`]
  ])

const paymentTable = (payments: ReadonlyArray<typeof PaymentJson.Type>) =>
  table(payments, [
    { header: "PAYMENT ID", cell: (p) => p.paymentId },
    { header: "STATUS", cell: (p) => p.status },
    { header: "AMOUNT MSAT", cell: (p) => p.amountMsat },
    { header: "FEE MSAT", cell: (p) => p.feePaidMsat },
    { header: "ATTEMPTS", cell: (p) => String(p.attempts) },
    { header: "FAILURE", cell: (p) => orDash(p.failureReason) }
  ], 66)

const paymentBlock = (p: typeof PaymentJson.Type) =>
  keyValues([
    ["payment id", p.paymentId],
    ["payment hash", p.paymentHash],
    ["status", p.status],
    ["amount", `${p.amountMsat} msat`],
    ["fee paid", `${p.feePaidMsat} msat`],
    ["preimage", orDash(p.preimage)],
    ["failure", orDash(p.failureReason)],
    ["attempts", String(p.attempts)]
  ])

const invoiceStatusBlock = (i: typeof InvoiceStatusJson.Type) =>
  keyValues([
    ["payment hash", i.paymentHash],
    ["status", i.status],
    ["amount", i.amountMsat === null ? "any" : `${i.amountMsat} msat`],
    ["received", `${i.receivedMsat} msat`],
    ["keysend", i.keysend ? "yes" : "no"],
    ["invoice", orDash(i.invoice)]
  ])

/** A blinded path's introduction node and blinded hop count, read from its `blinded_path` bytes. */
const pathSummary = (pathHex: string): { readonly introduction: string; readonly hops: string } => {
  const decoded = decodeBlindedPath(fromHex(pathHex))
  return Result.isSuccess(decoded)
    ? { introduction: toHex(decoded.success.firstNodeId), hops: String(decoded.success.hops.length) }
    : { introduction: "(undecodable)", hops: "-" }
}

/** A blinded invoice: its fields, a table of its paths, and the one-line JSON `pay-blinded` takes. */
const blindedInvoiceBlock = (b: typeof BlindedInvoiceJson.Type) =>
  [
    keyValues([
      ["payment hash", b.paymentHash],
      ["amount", b.amountMsat === null ? "any" : `${b.amountMsat} msat`],
      ["multi-part", b.mpp ? "yes" : "no"]
    ]),
    "",
    table(b.paths.map((p, i) => ({ i, p, s: pathSummary(p.path) })), [
      { header: "#", cell: (r) => String(r.i) },
      { header: "INTRODUCTION NODE", cell: (r) => r.s.introduction },
      { header: "HOPS", cell: (r) => r.s.hops },
      { header: "FEE BASE MSAT", cell: (r) => String(r.p.feeBaseMsat) },
      { header: "FEE PPM", cell: (r) => String(r.p.feeProportionalMillionths) },
      { header: "CLTV DELTA", cell: (r) => String(r.p.cltvExpiryDelta) },
      { header: "MIN MSAT", cell: (r) => r.p.htlcMinimumMsat },
      { header: "MAX MSAT", cell: (r) => r.p.htlcMaximumMsat }
    ]),
    "",
    "blinded invoice (give it to the payer: effect-lightning pay-blinded '<this line>'):",
    JSON.stringify(b)
  ].join("\n")

const print = <A>(flags: ClientFlags, human: (a: A) => string) => (a: A): string => (flags.json ? json(a) : human(a))

// --- commands ------------------------------------------------------------------------------

const nodeIdArgument = Argument.String("node-id").pipe(Argument.withDescription("a node id: 66 hex characters"))
const channelIdArgument = Argument.String("channel-id").pipe(Argument.withDescription("a channel id: 64 hex characters"))

const start = Command.make(
  "start",
  {
    dataDir: dataDirFlag,
    listen: addressFlag("listen", defaultConfig.listen, "where Lightning peers connect (port 0: any free port)"),
    api: addressFlag("api", defaultConfig.api, "where the control API listens (bearer token required)"),
    network: Flag.Literals("network", NetworkNames).pipe(
      Flag.withDefault<NetworkName>(defaultConfig.network),
      Flag.withDescription("the chain: init's chain hash, open_channel's check, the invoice prefix")
    ),
    apiTokenFile: tokenFileFlag
  },
  (flags) => {
    const config: NodeConfig = {
      dataDir: flags.dataDir,
      listen: flags.listen,
      api: flags.api,
      network: flags.network,
      ...(Option.isSome(flags.apiTokenFile) ? { apiTokenFile: flags.apiTokenFile.value } : {})
    }
    // Loaded only to run a node: the client commands need none of the node's modules.
    return Effect.flatMap(
      Effect.promise(() => import("../daemon/NodeDaemon.ts")),
      ({ runNode }) => runNode(config)
    )
  }
).pipe(Command.withDescription("Run the node: Lightning peers on --listen, the control API on --api, until SIGINT/SIGTERM."))

const getinfo = Command.make("getinfo", clientFlags, (flags) =>
  withClient(flags, (client) =>
    client.node.info().pipe(
      Effect.map(print(flags, (info) =>
        keyValues([
          ["node id", info.nodeId],
          ["network", info.network],
          ["listening on", orDash(info.listenAddress)],
          ["chain hash", info.chainHash],
          ["features", `${info.features.hex} (bits ${info.features.bits.join(",")})`]
        ])))
    ))).pipe(Command.withDescription("Show the node's id, network, listen address and features."))

/** `NODEID@HOST:PORT`, or `NODEID` with `--host`/`--port`... kept simple: the one-argument form. */
const connect = Command.make(
  "connect",
  { ...clientFlags, target: Argument.String("node-id@host:port").pipe(Argument.withDescription("the node to connect to: NODEID@HOST:PORT")) },
  (flags) =>
    Effect.gen(function*() {
      const at = flags.target.indexOf("@")
      const address = at < 0 ? undefined : parseAddress(flags.target.slice(at + 1))
      if (address === undefined) {
        return yield* new CliFailure({ exitCode: EXIT_USAGE, message: `expected NODEID@HOST:PORT, got '${flags.target}'` })
      }
      const nodeId = flags.target.slice(0, at)
      yield* withClient(flags, (client) =>
        client.peers.connect({ payload: { nodeId, host: address.host, port: address.port } }).pipe(
          Effect.map(print(flags, (p) => `connected to ${p.nodeId} at ${p.address} (negotiated features ${p.negotiatedFeatures.join(",")})`))
        ))
    })
).pipe(Command.withDescription("Connect to a Lightning node (BOLT 8 handshake and init); returns once connected."))

const disconnect = Command.make("disconnect", { ...clientFlags, nodeId: nodeIdArgument }, (flags) =>
  withClient(flags, (client) =>
    client.peers.disconnect({ params: { nodeId: flags.nodeId } }).pipe(
      Effect.map(() => (flags.json ? json({ disconnected: flags.nodeId }) : `disconnected from ${flags.nodeId}`))
    ))).pipe(Command.withDescription("Close the connection to a peer."))

const peers = Command.make("peers", clientFlags, (flags) =>
  withClient(flags, (client) => client.peers.list().pipe(Effect.map(print(flags, peerTable))))).pipe(
    Command.withDescription("List the connected peers.")
  )

const channelsList = Command.make("list", clientFlags, (flags) =>
  withClient(flags, (client) => client.channels.list().pipe(Effect.map(print(flags, channelTable))))).pipe(
    Command.withDescription("List every channel (sorted by peer, then channel id).")
  )

const channelsGet = Command.make("get", { ...clientFlags, channelId: channelIdArgument }, (flags) =>
  withClient(flags, (client) => client.channels.get({ params: { channelId: flags.channelId } }).pipe(Effect.map(print(flags, channelBlock))))).pipe(
    Command.withDescription("Show one channel.")
  )

const channelsOpen = Command.make(
  "open",
  {
    ...clientFlags,
    nodeId: nodeIdArgument,
    amountSat: Argument.Int("amount-sat").pipe(Argument.withDescription("the funding amount in satoshis")),
    pushMsat: Flag.Int("push-msat").pipe(Flag.optional, Flag.withDescription("amount given to the peer at open (default 0)")),
    channelType: Flag.Literals("channel-type", ["static_remote_key", "anchors_zero_fee_htlc_tx"]).pipe(
      Flag.optional,
      Flag.withDescription("the channel type (default static_remote_key)")
    ),
    announce: Flag.Boolean("announce").pipe(Flag.withDefault(false), Flag.withDescription("announce the channel (default: private)")),
    feeratePerKw: Flag.Int("feerate-per-kw").pipe(Flag.optional, Flag.withDescription("the commitment feerate (default: the node's estimate)")),
    funding: Flag.Literals("funding", ["wallet", "external"]).pipe(
      Flag.optional,
      Flag.withDescription("wallet: the node's wallet pays (default when it has one); external: fund it yourself with `channels fund`")
    ),
    background: Flag.Boolean("background").pipe(Flag.withDefault(false), Flag.withDescription("answer at once; the open goes on in the background"))
  },
  (flags) =>
    withClient(flags, (client) =>
      client.channels.open({
        payload: {
          nodeId: flags.nodeId,
          amountSat: flags.amountSat,
          announce: flags.announce,
          ...(Option.isSome(flags.funding) ? { funding: flags.funding.value } : {}),
          ...(flags.background ? { wait: false } : {}),
          ...(Option.isSome(flags.pushMsat) ? { pushMsat: flags.pushMsat.value } : {}),
          ...(Option.isSome(flags.channelType) ? { channelType: flags.channelType.value } : {}),
          ...(Option.isSome(flags.feeratePerKw) ? { feeratePerKw: flags.feeratePerKw.value } : {})
        }
      }).pipe(Effect.map(print(flags, (c) =>
        c.phase === "WaitFundingTx"
          ? `${channelBlock(c)}\n\nnext: fund it with a transaction paying the funding output (channels fund ${c.channelId} TX)`
          : channelBlock(c)
      )))
    )
).pipe(Command.withDescription(
  "Open a channel to a connected peer: funded from the node's wallet (answers once both sides signed the funding), " +
    "or with --funding external (answers after accept_channel with the funding output to pay)."
))

const channelsFund = Command.make(
  "fund",
  {
    ...clientFlags,
    channelId: Argument.String("temporary-channel-id").pipe(Argument.withDescription("the id `channels open` answered")),
    tx: Argument.String("tx").pipe(Argument.withDescription("the signed funding transaction, hex (segwit inputs only)"))
  },
  (flags) =>
    withClient(flags, (client) =>
      client.channels.fund({ params: { temporaryChannelId: flags.channelId }, payload: { tx: flags.tx } }).pipe(
        Effect.map(print(flags, channelBlock))
      ))
).pipe(Command.withDescription("Hand the funding transaction to a channel (answers after funding_signed); broadcast it yourself."))

const channelsClose = Command.make(
  "close",
  {
    ...clientFlags,
    channelId: channelIdArgument,
    scriptPubKey: Flag.String("script-pubkey").pipe(Flag.optional, Flag.withDescription("payout script, hex (default: the node's)")),
    feeratePerKw: Flag.Int("feerate-per-kw").pipe(Flag.optional, Flag.withDescription("closing feerate (default: the node's estimate)"))
  },
  (flags) =>
    withClient(flags, (client) =>
      client.channels.close({
        params: { channelId: flags.channelId },
        payload: {
          ...(Option.isSome(flags.scriptPubKey) ? { scriptPubKey: flags.scriptPubKey.value } : {}),
          ...(Option.isSome(flags.feeratePerKw) ? { feeratePerKw: flags.feeratePerKw.value } : {})
        }
      }).pipe(Effect.map(print(flags, channelBlock))))
).pipe(Command.withDescription("Close a channel cooperatively (shutdown, then fee negotiation)."))

const channelsForceClose = Command.make("force-close", { ...clientFlags, channelId: channelIdArgument }, (flags) =>
  withClient(flags, (client) => client.channels.forceClose({ params: { channelId: flags.channelId } }).pipe(Effect.map(print(flags, channelBlock))))).pipe(
    Command.withDescription("Force-close a channel (a channel not funded yet is aborted).")
  )

const channelsDepth = Command.make(
  "depth",
  {
    ...clientFlags,
    channelId: channelIdArgument,
    depth: Argument.Int("confirmations").pipe(Argument.withDescription("confirmations of the funding transaction")),
    shortChannelId: Flag.String("short-channel-id").pipe(Flag.optional, Flag.withMetavar("BLOCKxTXxOUTPUT"), Flag.withDescription("the funding output's position"))
  },
  (flags) =>
    withClient(flags, (client) =>
      client.channels.chain({
        params: { channelId: flags.channelId },
        payload: { depth: flags.depth, ...(Option.isSome(flags.shortChannelId) ? { shortChannelId: flags.shortChannelId.value } : {}) }
      }).pipe(Effect.map(() => (flags.json ? json({ accepted: true }) : `depth ${flags.depth} reported for ${flags.channelId}`))))
).pipe(Command.withDescription("Report the funding transaction's confirmations by hand (when the node follows no chain)."))

const channels = Command.make("channels").pipe(
  Command.withDescription("Channels: list, get, open, fund, close, force-close, depth."),
  Command.withSubcommands([channelsList, channelsGet, channelsOpen, channelsFund, channelsClose, channelsForceClose, channelsDepth])
)

const invoicesDecode = Command.make("decode", { ...clientFlags, invoice: Argument.String("invoice").pipe(Argument.withDescription("a BOLT 11 invoice")) }, (flags) =>
  withClient(flags, (client) =>
    client.invoices.decode({ payload: { invoice: flags.invoice } }).pipe(
      Effect.map(print(flags, (i) =>
        keyValues(Object.entries(i).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)] as const))))
    ))).pipe(Command.withDescription("Decode and check a BOLT 11 invoice."))

/** An amount in millisatoshis: decimal digits (the API's `MsatString`). */
const isMsat = (text: string): boolean => /^[0-9]{1,20}$/.test(text)
const notMsat = (text: string): string => `expected an amount in msat (decimal digits), got '${text}'`

const msatFlag = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.filter(isMsat, notMsat), Flag.optional, Flag.withMetavar("MSAT"), Flag.withDescription(description))

const msatArgument = (name: string, description: string) =>
  Argument.String(name).pipe(Argument.filter(isMsat, notMsat), Argument.withDescription(description))

const invoicesCreate = Command.make(
  "create",
  {
    ...clientFlags,
    amountMsat: msatFlag("amount-msat", "the amount asked, in msat (default: any amount)"),
    description: Flag.String("description").pipe(Flag.optional, Flag.withDescription("the invoice's description")),
    expirySeconds: Flag.Int("expiry-seconds").pipe(Flag.optional, Flag.withDescription("seconds until it expires (default 3600)"))
  },
  (flags) =>
    withClient(flags, (client) =>
      client.payments.createInvoice({
        payload: {
          ...(Option.isSome(flags.amountMsat) ? { amountMsat: flags.amountMsat.value } : {}),
          ...(Option.isSome(flags.description) ? { description: flags.description.value } : {}),
          ...(Option.isSome(flags.expirySeconds) ? { expirySeconds: flags.expirySeconds.value } : {})
        }
      }).pipe(Effect.map(print(flags, (i) => keyValues([["invoice", i.invoice], ["payment hash", i.paymentHash]])))))
).pipe(Command.withDescription("Create a BOLT 11 invoice; the node claims what pays it."))

const invoicesGet = Command.make(
  "get",
  { ...clientFlags, paymentHash: Argument.String("payment-hash").pipe(Argument.withDescription("the invoice's payment hash: 64 hex characters")) },
  (flags) =>
    withClient(flags, (client) =>
      client.payments.invoice({ params: { paymentHash: flags.paymentHash } }).pipe(Effect.map(print(flags, invoiceStatusBlock))))
).pipe(Command.withDescription("Show an invoice of ours (or a keysend received): its status and what it received."))

const invoicesCreateBlinded = Command.make(
  "create-blinded",
  {
    ...clientFlags,
    amountMsat: msatFlag("amount-msat", "the amount asked, in msat (default: any amount)"),
    expirySeconds: Flag.Int("expiry-seconds").pipe(Flag.optional, Flag.withDescription("seconds until it expires (default 3600)")),
    hops: Flag.Literals("hops", ["0", "1", "2"]).pipe(
      Flag.optional,
      Flag.withDescription("nodes before us in each path: 1 (a channel peer introduces; default), 2, or 0 (we are the introduction node)")
    ),
    maxPaths: Flag.Int("max-paths").pipe(Flag.optional, Flag.withDescription("at most this many paths (1 to 16, default 3)")),
    dummyHops: Flag.Int("dummy-hops").pipe(Flag.optional, Flag.withDescription("dummy hops after us in each path, to hide its length (0 to 4, default 0)"))
  },
  (flags) =>
    withClient(flags, (client) =>
      client.payments.createBlindedInvoice({
        payload: {
          ...(Option.isSome(flags.amountMsat) ? { amountMsat: flags.amountMsat.value } : {}),
          ...(Option.isSome(flags.expirySeconds) ? { expirySeconds: flags.expirySeconds.value } : {}),
          ...(Option.isSome(flags.hops) ? { hops: flags.hops.value === "0" ? 0 : flags.hops.value === "1" ? 1 : 2 } : {}),
          ...(Option.isSome(flags.maxPaths) ? { maxPaths: flags.maxPaths.value } : {}),
          ...(Option.isSome(flags.dummyHops) ? { dummyHops: flags.dummyHops.value } : {})
        }
      }).pipe(Effect.map(print(flags, blindedInvoiceBlock))))
).pipe(Command.withDescription("Create a payment to this node over blinded paths (BOLT 4 route blinding); pay it with pay-blinded."))

const invoices = Command.make("invoices").pipe(
  Command.withDescription("Invoices: create, create-blinded, get, decode."),
  Command.withSubcommands([invoicesCreate, invoicesCreateBlinded, invoicesGet, invoicesDecode])
)

const payFlags = {
  maxFeeMsat: msatFlag("max-fee-msat", "the most fee to pay, in msat (default: the node's limit)"),
  timeoutSeconds: Flag.Int("timeout-seconds").pipe(Flag.optional, Flag.withDescription("give up after this many seconds")),
  noWait: Flag.Boolean("no-wait").pipe(Flag.withDefault(false), Flag.withDescription("answer at once with the pending payment"))
} as const

const payOptions = (flags: { readonly maxFeeMsat: Option.Option<string>; readonly timeoutSeconds: Option.Option<number>; readonly noWait: boolean }) => ({
  ...(Option.isSome(flags.maxFeeMsat) ? { maxFeeMsat: flags.maxFeeMsat.value } : {}),
  ...(Option.isSome(flags.timeoutSeconds) ? { timeoutSeconds: flags.timeoutSeconds.value } : {}),
  wait: !flags.noWait
})

const pay = Command.make(
  "pay",
  {
    ...clientFlags,
    ...payFlags,
    invoice: Argument.String("invoice").pipe(Argument.withDescription("the BOLT 11 invoice to pay")),
    amountMsat: msatFlag("amount-msat", "the amount, for an invoice that names none")
  },
  (flags) =>
    withClient(flags, (client) =>
      client.payments.pay({ payload: { invoice: flags.invoice, ...(Option.isSome(flags.amountMsat) ? { amountMsat: flags.amountMsat.value } : {}), ...payOptions(flags) } }).pipe(
        Effect.map(print(flags, paymentBlock))
      ))
).pipe(Command.withDescription("Pay a BOLT 11 invoice; waits for the outcome unless --no-wait (a failure exits 1 with the reason)."))

const keysend = Command.make(
  "keysend",
  { ...clientFlags, ...payFlags, nodeId: nodeIdArgument, amountMsat: msatArgument("amount-msat", "the amount, in msat") },
  (flags) =>
    withClient(flags, (client) =>
      client.payments.pay({ payload: { keysend: { nodeId: flags.nodeId, amountMsat: flags.amountMsat }, ...payOptions(flags) } }).pipe(
        Effect.map(print(flags, paymentBlock))
      ))
).pipe(Command.withDescription("Pay a node without an invoice (keysend: the preimage travels in the onion)."))

/** The blinded invoice argument of `pay-blinded`: JSON as `invoices create-blinded --json` prints it. */
const parseBlindedInvoice = (text: string): Result.Result<typeof BlindedPaymentJson.Type, string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Result.fail("the blinded invoice is not JSON (give what `invoices create-blinded --json` prints)")
  }
  return Result.mapError(Schema.decodeUnknownResult(BlindedPaymentJson)(parsed), (e) => `not a blinded invoice: ${e.message}`)
}

const payBlinded = Command.make(
  "pay-blinded",
  {
    ...clientFlags,
    ...payFlags,
    blindedInvoice: Argument.String("blinded-invoice").pipe(
      Argument.withDescription("the blinded invoice, JSON as `invoices create-blinded --json` prints it (payment hash, amount, paths)")
    ),
    amountMsat: msatFlag("amount-msat", "the amount, for a blinded invoice that names none"),
    maxParts: Flag.Int("max-parts").pipe(Flag.optional, Flag.withDescription("at most this many HTLCs at once (a split needs the payee's multi-part support)"))
  },
  (flags) =>
    Effect.gen(function*() {
      const blinded = parseBlindedInvoice(flags.blindedInvoice)
      if (Result.isFailure(blinded)) return yield* new CliFailure({ exitCode: EXIT_USAGE, message: blinded.failure })
      return yield* withClient(flags, (client) =>
        client.payments.pay({
          payload: {
            blinded: blinded.success,
            ...(Option.isSome(flags.amountMsat) ? { amountMsat: flags.amountMsat.value } : {}),
            ...(Option.isSome(flags.maxParts) ? { maxParts: flags.maxParts.value } : {}),
            ...payOptions(flags)
          }
        }).pipe(Effect.map(print(flags, paymentBlock))))
    })
).pipe(Command.withDescription("Pay a blinded invoice (blinded paths to the payee); waits for the outcome unless --no-wait (a failure exits 1 with the reason)."))

const paymentsList = Command.make("list", clientFlags, (flags) =>
  withClient(flags, (client) => client.payments.payments().pipe(Effect.map(print(flags, paymentTable))))).pipe(
    Command.withDescription("List every payment this node made or is making.")
  )

const paymentsGet = Command.make(
  "get",
  { ...clientFlags, paymentId: Argument.String("payment-id").pipe(Argument.withDescription("the payment's id (default: its payment hash)")) },
  (flags) => withClient(flags, (client) => client.payments.payment({ params: { paymentId: flags.paymentId } }).pipe(Effect.map(print(flags, paymentBlock))))
).pipe(Command.withDescription("Show one payment."))

const payments = Command.make("payments").pipe(
  Command.withDescription("Payments: list, get."),
  Command.withSubcommands([paymentsList, paymentsGet])
)

const walletBalance = Command.make("balance", clientFlags, (flags) =>
  withClient(flags, (client) =>
    client.wallet.balance().pipe(Effect.map(print(flags, (b) =>
      `confirmed    ${b.confirmedSat} sat\nunconfirmed  ${b.unconfirmedSat} sat\nlocked       ${b.lockedSat} sat\nheight       ${b.height ?? "-"}`
    ))))).pipe(Command.withDescription("The on-chain wallet's balance: confirmed, unconfirmed (our change), locked (channel fundings in progress)."))

const walletAddress = Command.make(
  "address",
  { ...clientFlags, type: Flag.Literals("type", ["p2wpkh", "p2tr"]).pipe(Flag.optional, Flag.withDescription("p2wpkh (default) or p2tr")) },
  (flags) =>
    withClient(flags, (client) =>
      client.wallet.address({ payload: Option.isSome(flags.type) ? { type: flags.type.value } : {} }).pipe(Effect.map(print(flags, (a) => a.address))))
).pipe(Command.withDescription("A fresh receive address of the on-chain wallet."))

const walletSend = Command.make(
  "send",
  {
    ...clientFlags,
    address: Argument.String("address").pipe(Argument.withDescription("where to pay (an address of the node's network)")),
    amountSat: Argument.Int("amount-sat").pipe(Argument.optional, Argument.withDescription("the amount in satoshis (or --all)")),
    all: Flag.Boolean("all").pipe(Flag.withDefault(false), Flag.withDescription("send every spendable coin, the fee taken from it")),
    feeratePerKw: Flag.Int("feerate-per-kw").pipe(Flag.optional, Flag.withDescription("the feerate (default: the node's estimate for 6 blocks)"))
  },
  (flags) =>
    withClient(flags, (client) =>
      client.wallet.send({
        payload: {
          address: flags.address,
          ...(Option.isSome(flags.amountSat) ? { amountSat: flags.amountSat.value } : {}),
          ...(flags.all ? { all: true } : {}),
          ...(Option.isSome(flags.feeratePerKw) ? { feeratePerKw: flags.feeratePerKw.value } : {})
        }
      }).pipe(Effect.map(print(flags, (r) => `txid ${r.txid}\nfee  ${r.feeSat} sat (${r.feeratePerKw} sat/kw)`))))
).pipe(Command.withDescription("Pay an address from the on-chain wallet (change back to it) and broadcast."))

const walletAbandon = Command.make(
  "abandon",
  { ...clientFlags, txid: Argument.String("txid").pipe(Argument.withDescription("the unconfirmed send's txid")) },
  (flags) =>
    withClient(flags, (client) =>
      client.wallet.abandon({ payload: { txid: flags.txid } }).pipe(Effect.map(print(flags, (r) => r.abandoned.map((t) => `abandoned ${t}`).join("\n")))))
).pipe(Command.withDescription("Forget a send that does not confirm (and its unconfirmed children): its coins are spendable again."))

const wallet = Command.make("wallet").pipe(
  Command.withDescription("The on-chain wallet (a node following a chain): balance, address, send, abandon."),
  Command.withSubcommands([walletBalance, walletAddress, walletSend, walletAbandon])
)

/** The whole command line. */
export const cli = Command.make("effect-lightning").pipe(
  Command.withDescription(
    "An effect-lightning node: `start` runs it; the other commands talk to a running node's control API " +
      "(token from DIR/api_token). Exit codes: 0 ok, 1 refused by the node, 2 bad arguments, 3 node unreachable, 4 API token missing or refused."
  ),
  Command.withSubcommands([start, getinfo, connect, disconnect, peers, channels, invoices, pay, payBlinded, keysend, payments, wallet])
)

/** Runs the command line on `argv` (without the node and script paths). */
export const runCli = (argv: ReadonlyArray<string>, version: string) => Command.runWith(cli, { version })(argv)

