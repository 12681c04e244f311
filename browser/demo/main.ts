/**
 * The demo page: runs `scenario.ts` in the tab over the browser layers (IndexedDB stores, Web
 * Crypto entropy, the WebSocket transport) and shows every node event as it happens.
 *
 * `globalThis.demo` is the page's API, used by its buttons and by the browser tests
 * (test/browser/demo.test.ts): `runLocal`, `restore`, `runBridge`, `storeChecks`, `reset`.
 * With the demo server (`browser/demo/server.ts`) the page reads `/config.json`: the bridge's
 * URL, the Node node's id and where to fetch its invoices.
 */
import { Effect, Exit, Scope } from "effect"
import { randomBytes } from "../../src/layers/browser/CryptoEntropy.ts"
import * as CryptoEntropy from "../../src/layers/browser/CryptoEntropy.ts"
import * as IndexedDbStore from "../../src/layers/browser/IndexedDbStore.ts"
import { deleteIndexedDbStore, makeIndexedDbStore } from "../../src/layers/browser/IndexedDbStore.ts"
import * as WebSocketTransport from "../../src/layers/browser/WebSocketTransport.ts"
import { type DemoKeys, openAndPayBothWays, openChannel, parseNodeId, PEER_PORT, payOne, startBridged, startPair, summary } from "./scenario.ts"
import { storeChecks } from "./store-checks.ts"

const PREFIX = "effect-lightning-demo"
const NODES = ["alice", "bob", "carol"] as const

interface DemoConfig {
  readonly bridgeUrl: string
  readonly nodeId: string
  readonly invoiceUrl: string
}

const logList = document.getElementById("log")
const statusText = document.getElementById("status")
const lines: Array<string> = []

const log = (line: string, error = false) => {
  lines.push(line)
  const li = document.createElement("li")
  li.textContent = line
  if (error) li.className = "error"
  logList?.appendChild(li)
  li.scrollIntoView({ block: "nearest" })
}

const setStatus = (text: string) => {
  if (statusText !== null) statusText.textContent = text
}

/** Each node's seed, kept in IndexedDB beside its data so a reload finds the same node. */
const keys: DemoKeys = {
  seed: (node) =>
    Effect.scoped(
      Effect.gen(function*() {
        const store = yield* makeIndexedDbStore({ name: `${PREFIX}/${node}/keys` })
        const kept = yield* store.get("seed")
        if (kept !== undefined) return kept.value
        const fresh = randomBytes(32)
        yield* store.put("seed", fresh, 0)
        return fresh
      })
    ).pipe(Effect.orDie),
  entropy: CryptoEntropy.layer
}

const stores = (node: string, purpose: "channels" | "payments") => IndexedDbStore.layer({ name: `${PREFIX}/${node}/${purpose}` })

/** Nodes live in this scope until `stop` (or the page goes away). */
let scope: Scope.Closeable | undefined

const inScope = async <A, E>(what: string, program: Effect.Effect<A, E, Scope.Scope>): Promise<A> => {
  setStatus(`${what}...`)
  scope ??= await Effect.runPromise(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.provide(scope)(program))
  if (Exit.isSuccess(exit)) {
    setStatus(`${what}: done`)
    return exit.value
  }
  const message = String(exit.cause)
  log(`${what} failed: ${message}`, true)
  setStatus(`${what}: failed`)
  throw new Error(message)
}

const stop = async () => {
  const s = scope
  scope = undefined
  if (s !== undefined) await Effect.runPromise(Scope.close(s, Exit.void))
}

/** Deletes the databases of these nodes (their keys too). */
const forget = async (nodes: ReadonlyArray<string>) => {
  for (const node of nodes) {
    for (const purpose of ["channels", "payments", "keys"]) {
      await Effect.runPromise(deleteIndexedDbStore(`${PREFIX}/${node}/${purpose}`))
    }
  }
}

let config: DemoConfig | undefined

const demo = {
  lines,
  /** Alice and Bob from scratch (their old data deleted): fund, open, pay both ways. */
  runLocal: async () => {
    await stop()
    await forget(["alice", "bob"])
    return inScope("two nodes", Effect.gen(function*() {
      const pair = yield* startPair(keys, stores, log, true)
      const result = yield* openAndPayBothWays(pair, log)
      return { ...result, alice: yield* summary(pair.alice), bob: yield* summary(pair.bob) }
    }))
  },
  /** Alice and Bob from IndexedDB alone (no chain): what their stores hold. */
  restore: async () => {
    await stop()
    return inScope("restore", Effect.gen(function*() {
      const pair = yield* startPair(keys, stores, log, false)
      return { alice: yield* summary(pair.alice), bob: yield* summary(pair.bob) }
    }))
  },
  /** Carol (afresh), through the bridge: open a channel to the Node node and pay its invoice. */
  runBridge: async () => {
    await stop()
    await forget(["carol"])
    return inScope("bridge", Effect.gen(function*() {
      const c = config
      if (c === undefined) return yield* Effect.die(new Error("no /config.json: start browser/demo/server.ts"))
      const transport = WebSocketTransport.layer({ url: () => c.bridgeUrl })
      const { node, chain } = yield* startBridged(keys, stores, transport, log)
      const remote = parseNodeId(c.nodeId)
      if (remote === undefined) return yield* Effect.die(new Error("bad node id in /config.json"))
      // The address is symbolic: the transport maps every address to the bridge.
      yield* openChannel(node, chain, remote, { host: "node", port: PEER_PORT }, 500_000n, log)
      const invoice = yield* Effect.promise(() => fetch(`${c.invoiceUrl}?amountMsat=30000000`).then((r) => r.text()))
      const preimage = yield* payOne(node, invoice.trim(), log)
      return { preimage, carol: yield* summary(node) }
    }))
  },
  /** The IndexedDB store's guarantees, checked in this browser. */
  storeChecks: () => inScope("store checks", storeChecks(`${PREFIX}/checks`)),
  /** Stops the nodes and deletes every database of the demo. */
  reset: async () => {
    await stop()
    await forget(NODES)
    log("deleted the demo's IndexedDB databases")
    setStatus("reset")
  },
  stop
}

Reflect.set(globalThis, "demo", demo)

const button = (id: string, run: () => Promise<unknown>) => {
  const b = document.getElementById(id)
  b?.addEventListener("click", () => {
    run().catch(() => {}) // reported in the log by inScope
  })
  return b
}

button("run-local", demo.runLocal)
button("restore", demo.restore)
button("reset", demo.reset)
const bridgeButton = button("run-bridge", demo.runBridge)

const isConfig = (u: unknown): u is DemoConfig =>
  typeof u === "object" && u !== null &&
  typeof Reflect.get(u, "bridgeUrl") === "string" && typeof Reflect.get(u, "nodeId") === "string" && typeof Reflect.get(u, "invoiceUrl") === "string"

const loadConfig = async () => {
  try {
    const r = await fetch("./config.json")
    const c: unknown = r.ok ? await r.json() : undefined
    if (isConfig(c)) {
      config = c
      bridgeButton?.removeAttribute("disabled")
      log(`the Node node ${c.nodeId.slice(0, 12)} is reachable through the bridge at ${c.bridgeUrl}`)
    }
  } catch {
    // No demo server: the bridge part stays disabled.
  }
}

void loadConfig().then(() => {
  document.body.dataset["ready"] = "1"
  setStatus("ready")
})
