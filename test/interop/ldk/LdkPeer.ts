/**
 * A real LDK node (rust-lightning 0.1, from the `lightningdevkit` WASM build) on real TCP
 * sockets, for interop tests.
 *
 * LDK's `PeerManager` owns no sockets: it hands us bytes to write through a `SocketDescriptor`
 * and expects us to feed it what we read (`read_event`), to report closed sockets
 * (`socket_disconnected`) and to drive its timer (`timer_tick_occurred`, which sends pings and
 * disconnects peers that did not answer the previous round). This module is that glue, over
 * `node:net` on 127.0.0.1, plus a `ChannelManager` behind the `PeerManager` so that LDK
 * advertises and enforces the same `init` features as a real LDK node (e.g. it disconnects a
 * peer without `option_static_remotekey`, BOLT 9).
 *
 * Test-only code: it uses the real clock and OS randomness on purpose.
 */
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import { dirname, join } from "node:path"
import * as ldk from "lightningdevkit"

// ---------------------------------------------------------------------------------------------
// WASM initialisation (once per process: the bindings keep the instance in a module global)

let wasmReady: Promise<void> | undefined

/** Loads `liblightningjs.wasm` from the installed package and initialises the bindings. */
export const initLdk = (): Promise<void> => {
  if (wasmReady === undefined) {
    const require = createRequire(import.meta.url)
    const pkgDir = dirname(require.resolve("lightningdevkit/package.json"))
    const binary = readFileSync(join(pkgDir, "liblightningjs.wasm"))
    wasmReady = ldk.initializeWasmFromBinary(binary)
  }
  return wasmReady
}

// ---------------------------------------------------------------------------------------------
// Public types

export type LdkNetwork = "bitcoin" | "testnet" | "regtest" | "signet"

export interface LdkPeerOptions {
  /** 32-byte seed of LDK's KeysManager; random when absent. */
  readonly seed?: Uint8Array
  /** Chain LDK's ChannelManager is on: it sends that chain in `init.networks`. Default regtest. */
  readonly network?: LdkNetwork
  /**
   * "channelManager" (default): a real ChannelManager handles channel messages, so LDK's init
   * features and checks are those of a real LDK node. "erroring": LDK's ErroringMessageHandler
   * (all-optional features, no `networks` TLV).
   */
  readonly handler?: "channelManager" | "erroring"
  /** Print LDK's log lines to stderr as they come (they are always kept in `logs`). */
  readonly printLogs?: boolean
  /**
   * A channel message handler built by the caller (a full node with a chain, see LdkNode.ts),
   * given the harness's keys and logger. Overrides `handler`.
   */
  readonly makeChannelHandler?: (keys: ldk.KeysManager, logger: ldk.Logger, nowSecs: number) => ldk.ChannelMessageHandler
  /**
   * A gossip (routing message) handler built by the caller, e.g. LDK's `P2PGossipSync` (see
   * LdkNode's `gossip` option); called after `makeChannelHandler`. Default: LDK ignores gossip.
   */
  readonly makeRoutingHandler?: (logger: ldk.Logger) => ldk.RoutingMessageHandler
}

export interface LdkLogLine {
  readonly level: string
  readonly module: string
  readonly message: string
  readonly peer: string | undefined
}

export interface LdkPeerInfo {
  /** Hex of the 33-byte node id. */
  readonly nodeId: string
  readonly inbound: boolean
  /** Init features the peer sent us, little-endian bytes as LDK stores them (bit 0 in byte 0). */
  readonly featuresLe: Uint8Array
  /** Bit numbers (BOLT 9) set in the peer's init features. */
  readonly featureBits: ReadonlyArray<number>
}

// ---------------------------------------------------------------------------------------------
// Helpers

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")

const levelName = (level: ldk.Level): string => {
  switch (level) {
    case ldk.Level.LDKLevel_Gossip: return "GOSSIP"
    case ldk.Level.LDKLevel_Trace: return "TRACE"
    case ldk.Level.LDKLevel_Debug: return "DEBUG"
    case ldk.Level.LDKLevel_Info: return "INFO"
    case ldk.Level.LDKLevel_Warn: return "WARN"
    case ldk.Level.LDKLevel_Error: return "ERROR"
    default: return `LEVEL${String(level)}`
  }
}

const ldkNetwork = (network: LdkNetwork): ldk.Network => {
  switch (network) {
    case "bitcoin": return ldk.Network.LDKNetwork_Bitcoin
    case "testnet": return ldk.Network.LDKNetwork_Testnet
    case "regtest": return ldk.Network.LDKNetwork_Regtest
    case "signet": return ldk.Network.LDKNetwork_Signet
  }
}

/** Bits set in a little-endian feature vector. */
export const featureBitsLe = (le: Uint8Array): Array<number> => {
  const bits: Array<number> = []
  le.forEach((byte, i) => {
    for (let b = 0; b < 8; b++) if ((byte >> b) & 1) bits.push(i * 8 + b)
  })
  return bits
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 20 ms until it is true; rejects with `what` after `timeoutMs`. */
export const waitUntil = async (what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

/** LDK asks for reads of about 4 KiB at a time (PeerManager::read_event). */
const READ_CHUNK = 4096
const MAX_LOG_LINES = 5_000

// ---------------------------------------------------------------------------------------------
// One TCP connection, seen by LDK as a SocketDescriptor

interface Connection {
  readonly id: bigint
  readonly socket: net.Socket
  readonly descriptor: ldk.SocketDescriptor
  /** True once LDK asked us to stop reading (read_event returned Ok(true)). */
  paused: boolean
  closed: boolean
}

// ---------------------------------------------------------------------------------------------
// The node

export class LdkPeer {
  readonly nodeId: Uint8Array
  readonly nodeIdHex: string
  readonly logs: Array<LdkLogLine> = []
  /** How many times LDK called `disconnect_socket` on one of our sockets. */
  ldkInitiatedDisconnects = 0

  /** LDK's key manager and logger (a full node built on this harness shares them). */
  readonly keys: ldk.KeysManager
  readonly logger: ldk.Logger
  private readonly peerManager: ldk.PeerManager
  private readonly server: net.Server
  private readonly connections = new Map<bigint, Connection>()
  private readonly printLogs: boolean
  private nextId = 1n
  private listenPort = 0
  private stopped = false

  private constructor(options: LdkPeerOptions) {
    this.printLogs = options.printLogs ?? false
    const seed = options.seed ?? randomBytes(32)
    if (seed.length !== 32) throw new Error("LDK seed must be 32 bytes")
    const nowMs = Date.now()

    const logger = ldk.Logger.new_impl({
      log: (record: ldk.Record) => {
        const peerId = record.get_peer_id()
        const line: LdkLogLine = {
          level: levelName(record.get_level()),
          module: record.get_module_path(),
          message: record.get_args(),
          peer: peerId.length > 0 && peerId.some((b) => b !== 0) ? toHex(peerId) : undefined
        }
        if (this.logs.length >= MAX_LOG_LINES) this.logs.shift()
        this.logs.push(line)
        if (this.printLogs) process.stderr.write(`[ldk ${line.level}] ${line.module}: ${line.message}\n`)
      }
    })

    const keys = ldk.KeysManager.constructor_new(seed, BigInt(Math.floor(nowMs / 1000)), (nowMs % 1000) * 1_000_000)
    const nodeIdResult = keys.as_NodeSigner().get_node_id(ldk.Recipient.LDKRecipient_Node)
    if (!(nodeIdResult instanceof ldk.Result_PublicKeyNoneZ_OK)) throw new Error("LDK KeysManager gave no node id")
    this.nodeId = nodeIdResult.res
    this.nodeIdHex = toHex(nodeIdResult.res)

    this.keys = keys
    this.logger = logger
    const channelHandler = options.makeChannelHandler !== undefined
      ? options.makeChannelHandler(keys, logger, Math.floor(nowMs / 1000))
      : (options.handler ?? "channelManager") === "channelManager"
      ? makeChannelManager(keys, logger, ldkNetwork(options.network ?? "regtest"), Math.floor(nowMs / 1000)).as_ChannelMessageHandler()
      : ldk.ErroringMessageHandler.constructor_new().as_ChannelMessageHandler()
    const ignoring = ldk.IgnoringMessageHandler.constructor_new()
    this.peerManager = ldk.PeerManager.constructor_new(
      channelHandler,
      options.makeRoutingHandler?.(logger) ?? ignoring.as_RoutingMessageHandler(),
      ignoring.as_OnionMessageHandler(),
      ignoring.as_CustomMessageHandler(),
      Math.floor(nowMs / 1000),
      randomBytes(32),
      logger,
      keys.as_NodeSigner()
    )

    this.server = net.createServer((socket) => this.onInbound(socket))
  }

  /** Initialises the WASM (once) and starts a node listening on 127.0.0.1, port chosen by the OS. */
  static async start(options: LdkPeerOptions = {}): Promise<LdkPeer> {
    await initLdk()
    const peer = new LdkPeer(options)
    await new Promise<void>((resolve, reject) => {
      peer.server.once("error", reject)
      peer.server.listen(0, "127.0.0.1", () => {
        peer.server.off("error", reject)
        resolve()
      })
    })
    const address = peer.server.address()
    if (address === null || typeof address === "string") throw new Error("LDK harness: no TCP address")
    peer.listenPort = address.port
    return peer
  }

  get port(): number {
    return this.listenPort
  }

  /** Opens a TCP connection to host:port and starts LDK's BOLT 8 handshake as initiator. */
  async connect(theirNodeId: Uint8Array, host: string, port: number): Promise<void> {
    const socket = net.connect({ host, port })
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject)
      socket.once("connect", () => {
        socket.off("error", reject)
        resolve()
      })
    })
    const conn = this.track(socket)
    const act1 = this.peerManager.new_outbound_connection(theirNodeId, conn.descriptor, this.remoteAddress(socket))
    if (!(act1 instanceof ldk.Result_CVec_u8ZPeerHandleErrorZ_OK)) {
      conn.closed = true
      socket.destroy()
      throw new Error("LDK refused the outbound connection")
    }
    socket.write(act1.res)
  }

  /** Peers that completed the handshake and the `init` exchange. */
  listPeers(): Array<LdkPeerInfo> {
    return this.peerManager.list_peers().map((details) => {
      const featuresLe = details.get_init_features().le_flags()
      return {
        nodeId: toHex(details.get_counterparty_node_id()),
        // The WASM bindings hand back 0/1 here despite the boolean in the .d.ts.
        inbound: Boolean(details.get_is_inbound_connection()),
        featuresLe,
        featureBits: featureBitsLe(featuresLe)
      }
    })
  }

  peer(nodeIdHex: string): LdkPeerInfo | undefined {
    return this.listPeers().find((p) => p.nodeId === nodeIdHex.toLowerCase())
  }

  /** One of LDK's timer ticks: pings every peer, disconnects those that did not answer the last ping. */
  tick(): void {
    this.peerManager.timer_tick_occurred()
    this.peerManager.process_events()
  }

  /**
   * LDK signs and broadcasts its `node_announcement` (BOLT 7; LDK sends it only once it has a
   * public channel). `alias` up to 32 bytes, `rgb` 3 bytes.
   */
  broadcastNodeAnnouncement(alias: string, rgb: Uint8Array): void {
    const a = new Uint8Array(32)
    a.set(new TextEncoder().encode(alias).subarray(0, 32))
    this.peerManager.broadcast_node_announcement(rgb, a, [])
    this.peerManager.process_events()
  }

  /** Lets LDK write what its message handlers queued (call after driving the channel manager). */
  processEvents(): void {
    this.peerManager.process_events()
  }

  /** Asks LDK to drop the peer; LDK then calls `disconnect_socket` on its descriptor. */
  disconnect(nodeId: Uint8Array): void {
    this.peerManager.disconnect_by_node_id(nodeId)
    this.peerManager.process_events()
  }

  /** Number of TCP connections currently open (handshaking or not). */
  get openConnections(): number {
    return this.connections.size
  }

  /** How many `pong` messages LDK has received from this peer (counted from LDK's trace log). */
  pongsFrom(nodeIdHex: string): number {
    const from = `from ${nodeIdHex.toLowerCase()}`
    return this.logs.filter((l) => l.message.startsWith("Received message Pong") && l.message.endsWith(from)).length
  }

  /**
   * One ping round as LDK runs it: a timer tick (which sends a ping to each peer), then wait
   * until `nodeIdHex` has answered it with a pong. LDK disconnects, on its next tick, a peer that
   * has sent nothing since the previous tick while a ping was outstanding.
   */
  async pingRound(nodeIdHex: string, timeoutMs = 5_000): Promise<void> {
    const before = this.pongsFrom(nodeIdHex)
    this.tick()
    await waitUntil(`a pong from ${nodeIdHex} after LDK's timer tick`, () => this.pongsFrom(nodeIdHex) > before, timeoutMs)
  }

  /** Log lines whose message contains `text` (case-insensitive). */
  logsMatching(text: string): Array<LdkLogLine> {
    const needle = text.toLowerCase()
    return this.logs.filter((l) => l.message.toLowerCase().includes(needle))
  }

  /** The log as text, for failure messages and reports. */
  logText(minLevel: "GOSSIP" | "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" = "TRACE"): string {
    const order = ["GOSSIP", "TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
    const min = order.indexOf(minLevel)
    return this.logs
      .filter((l) => order.indexOf(l.level) >= min)
      .map((l) => `[${l.level}] ${l.module}: ${l.message}`)
      .join("\n")
  }

  /** Closes the listener and every socket, and tells LDK about each. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const closing = [...this.connections.values()].map((conn) =>
      new Promise<void>((resolve) => {
        if (conn.socket.destroyed) return resolve()
        conn.socket.once("close", () => resolve())
        conn.socket.destroy()
      })
    )
    await Promise.all(closing)
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  // -------------------------------------------------------------------------------------------

  private onInbound(socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy()
      return
    }
    const conn = this.track(socket)
    const accepted = this.peerManager.new_inbound_connection(conn.descriptor, this.remoteAddress(socket))
    if (!accepted.is_ok()) {
      conn.closed = true
      socket.destroy()
    }
  }

  /** The remote address LDK reports back to the peer in `init.remote_addr`. */
  private remoteAddress(socket: net.Socket): ldk.Option_SocketAddressZ {
    const ip = socket.remoteAddress
    const port = socket.remotePort
    if (ip === undefined || port === undefined || !net.isIPv4(ip)) return ldk.Option_SocketAddressZ.constructor_none()
    const octets = Uint8Array.from(ip.split(".").map(Number))
    return ldk.Option_SocketAddressZ.constructor_some(ldk.SocketAddress.constructor_tcp_ip_v4(octets, port))
  }

  private track(socket: net.Socket): Connection {
    const id = this.nextId++
    socket.setNoDelay(true)
    const descriptor = ldk.SocketDescriptor.new_impl({
      send_data: (data: Uint8Array, resumeRead: boolean): number => {
        const c = this.connections.get(id)
        if (c === undefined || c.closed || socket.destroyed) return 0
        if (data.length > 0) socket.write(Buffer.from(data)) // copy: data may view WASM memory
        if (resumeRead && c.paused) {
          c.paused = false
          socket.resume()
        }
        return data.length
      },
      disconnect_socket: (): void => {
        // LDK already forgot the peer; closing the socket is all that is left to do. The
        // later socket_disconnected call (from "close") is a no-op for LDK.
        this.ldkInitiatedDisconnects++
        const c = this.connections.get(id)
        if (c !== undefined) c.closed = true
        socket.destroy()
      },
      eq: (other: ldk.SocketDescriptor): boolean => other.hash() === id,
      hash: (): bigint => id
    })
    const conn: Connection = { id, socket, descriptor, paused: false, closed: false }
    this.connections.set(id, conn)

    socket.on("data", (chunk: Buffer) => {
      if (conn.closed) return
      for (let off = 0; off < chunk.length && !conn.closed; off += READ_CHUNK) {
        const result = this.peerManager.read_event(descriptor, chunk.subarray(off, off + READ_CHUNK))
        if (result instanceof ldk.Result_boolPeerHandleErrorZ_OK) {
          if (result.res && !conn.paused) {
            conn.paused = true
            socket.pause()
          }
        } else {
          conn.closed = true
          socket.destroy()
        }
      }
      this.peerManager.process_events()
    })
    socket.on("error", () => {
      // "close" follows; the error itself is visible in LDK's log as a disconnect.
    })
    socket.on("close", () => {
      conn.closed = true
      this.connections.delete(id)
      this.peerManager.socket_disconnected(descriptor)
      this.peerManager.process_events()
    })
    return conn
  }
}

// ---------------------------------------------------------------------------------------------
// A ChannelManager with no chain, no channels and no routing: enough for the peer layer to
// behave like a real LDK node (its init features, its `networks` TLV, its peer checks).

/** Genesis block hashes as displayed (reversed into internal byte order for BestBlock). */
const genesisHashDisplay: Record<LdkNetwork, string> = {
  bitcoin: "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
  testnet: "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
  regtest: "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
  signet: "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"
}

const networkName = (network: ldk.Network): LdkNetwork => {
  switch (network) {
    case ldk.Network.LDKNetwork_Bitcoin: return "bitcoin"
    case ldk.Network.LDKNetwork_Testnet: return "testnet"
    case ldk.Network.LDKNetwork_Signet: return "signet"
    default: return "regtest"
  }
}

const makeChannelManager = (
  keys: ldk.KeysManager,
  logger: ldk.Logger,
  network: ldk.Network,
  nowSecs: number
): ldk.ChannelManager => {
  const feeEstimator = ldk.FeeEstimator.new_impl({ get_est_sat_per_1000_weight: () => 253 })
  const broadcaster = ldk.BroadcasterInterface.new_impl({ broadcast_transactions: () => {} })
  const persister = ldk.Persist.new_impl({
    persist_new_channel: () => ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_Completed,
    update_persisted_channel: () => ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_Completed,
    archive_persisted_channel: () => {}
  })
  const chainMonitor = ldk.ChainMonitor.constructor_new(
    ldk.Option_FilterZ.constructor_none(),
    broadcaster,
    logger,
    feeEstimator,
    persister
  )
  const noRoute = () =>
    ldk.Result_RouteLightningErrorZ.constructor_err(
      ldk.LightningError.constructor_new("the interop harness does no routing", ldk.ErrorAction.constructor_ignore_error())
    )
  const router = ldk.Router.new_impl({
    find_route: noRoute,
    find_route_with_id: noRoute,
    create_blinded_payment_paths: () => ldk.Result_CVec_BlindedPaymentPathZNoneZ.constructor_err()
  })
  const graph = ldk.NetworkGraph.constructor_new(network, logger)
  const messageRouter = ldk.DefaultMessageRouter.constructor_new(graph, keys.as_EntropySource())
  const genesis = Buffer.from(genesisHashDisplay[networkName(network)], "hex").reverse()
  const params = ldk.ChainParameters.constructor_new(network, ldk.BestBlock.constructor_new(genesis, 0))
  return ldk.ChannelManager.constructor_new(
    feeEstimator,
    chainMonitor.as_Watch(),
    broadcaster,
    router,
    messageRouter.as_MessageRouter(),
    logger,
    keys.as_EntropySource(),
    keys.as_NodeSigner(),
    keys.as_SignerProvider(),
    ldk.UserConfig.constructor_default(),
    params,
    nowSecs
  )
}
