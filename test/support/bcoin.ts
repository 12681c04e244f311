/**
 * A bcoin 1.0.2 regtest node in a child process (`test/layers/chain/bcoin-node.cjs`), driven by
 * JSON lines on its stdin/stdout, with the Bitcoin Core style RPC on a free local port: the real
 * chain of the bitcoind layer's tests and of BOLT 5's regtest test.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { join } from "node:path"
import { createInterface } from "node:readline"

/** Whether the bcoin package is installed (a devDependency). */
export const bcoinAvailable = (() => {
  try {
    createRequire(import.meta.url).resolve("bcoin")
    return true
  } catch {
    return false
  }
})()

export const API_KEY = "regtest-secret"

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })

/** One answer of the driver. */
export interface Answer {
  readonly ok: boolean
  readonly error?: string
  readonly hashes?: ReadonlyArray<string>
  readonly hex?: string
  readonly txid?: string
  readonly txids?: ReadonlyArray<string>
}

export class BcoinNode {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly waiting: Array<(a: Answer) => void> = []
  readonly port: number
  private constructor(port: number) {
    this.port = port
    this.child = spawn(process.execPath, [join(import.meta.dirname, "../layers/chain/bcoin-node.cjs"), String(port), API_KEY], {
      env: { ...process.env, NODE_BACKEND: "js" }
    })
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      if (!line.startsWith('{"ok"')) {
        if (process.env["BCOIN_LOG"] !== undefined) console.error(line) // bcoin's own log (BCOIN_LOG=debug)
        return
      }
      const next = this.waiting.shift()
      const parsed: Answer = JSON.parse(line)
      if (next !== undefined) next(parsed)
    })
  }
  /** Starts a node on `port` (default: a free one) and waits until it answers. */
  static async start(port?: number): Promise<BcoinNode> {
    const node = new BcoinNode(port ?? await freePort())
    const ready = await new Promise<Answer>((resolve) => node.waiting.push(resolve))
    if (!ready.ok) throw new Error(`bcoin did not start: ${ready.error}`)
    return node
  }
  async command(cmd: Record<string, unknown>): Promise<Answer> {
    const answer = new Promise<Answer>((resolve) => this.waiting.push(resolve))
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`)
    const a = await answer
    if (!a.ok) throw new Error(`bcoin ${String(cmd["cmd"])}: ${a.error}`)
    return a
  }
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.on("exit", () => resolve()))
    this.child.stdin.write(`${JSON.stringify({ cmd: "stop" })}\n`)
    await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 5000))])
    this.child.kill()
  }
  /** The RPC URL with its credentials. */
  get url(): string {
    return `http://x:${API_KEY}@127.0.0.1:${this.port}`
  }
}
