/**
 * Command-line flags of the runnable node (`npm start`, `src/main.ts`). Parsing is a pure
 * function from argv to a config or a message, so it is tested without starting anything.
 */
import { parseArgs } from "node:util"
import { Result } from "effect"
import { networkByName, type NetworkName, NetworkNames } from "../../protocol/network.ts"
import { formatAddress, parseAddress, type SocketAddress } from "../../services/Transport.ts"

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
}

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
  -h, --help          print this help
`

/** What the command line asks for: run with a config, or print the help. */
export type FlagsResult = { readonly _tag: "Run"; readonly config: NodeConfig } | { readonly _tag: "Help" }

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
  return Result.succeed({
    _tag: "Run",
    config: {
      dataDir,
      listen: listen.success,
      api: api.success,
      network,
      ...(apiTokenFile === undefined ? {} : { apiTokenFile }),
      ...(bitcoind.success === undefined ? {} : { bitcoind: bitcoind.success })
    }
  })
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
      help: { type: "boolean", short: "h" }
    }
  })
