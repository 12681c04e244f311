/**
 * A throwaway PostgreSQL server for tests and benches: `initdb` into a fresh temporary
 * directory, `pg_ctl start` on a free local port (its unix socket in the same directory), one
 * database created, and everything stopped and removed afterwards.
 *
 * Finding the binaries: `initdb` / `pg_ctl` on the PATH, else the newest
 * `/usr/lib/postgresql/<major>/bin` (Debian's layout; `.ci/run` installs `postgresql` when
 * neither is there). PostgreSQL refuses to run as root: when we are root, the directory is
 * given to the `postgres` user (Debian's package creates it) or, failing that, `nobody`, and
 * the server commands run through `runuser -u <user> --`. The cluster trusts local connections
 * (`-A trust`): it lives for one test file in a private directory, on 127.0.0.1 only.
 */
import { execFile, type ExecFileOptions } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir, userInfo } from "node:os"
import { delimiter, dirname, join } from "node:path"

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
  /** The temporary directory holding the cluster (removed by `stop`). */
  readonly directory: string
  /** Creates another database on the same server; its URL. */
  readonly createDatabase: (name: string) => Promise<string>
  /** Stops the server (immediate mode) and removes its directory. Idempotent. */
  readonly stop: () => Promise<void>
}

export interface PostgresOptions {
  /** `fsync` of the server (default true: the bench measures real commits; tests may turn it off for speed). */
  readonly fsync?: boolean
  readonly database?: string
}

const run = (file: string, args: ReadonlyArray<string>, options: ExecFileOptions = {}): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { ...options, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${file} ${args.join(" ")} failed: ${error.message}\n${String(stdout)}${String(stderr)}`))
      else resolve(String(stdout))
    })
  })

/** The directory holding `initdb` and `pg_ctl`, or undefined when PostgreSQL is not installed. */
export const findPostgresBin = (): string | undefined => {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    // a symlink (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb): its real directory has psql too
    if (dir !== "" && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dirname(realpathSync(join(dir, "initdb")))
  }
  const base = "/usr/lib/postgresql"
  if (!existsSync(base)) return undefined
  const majors = readdirSync(base)
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(b) - Number(a))
  for (const m of majors) {
    const dir = join(base, m, "bin")
    if (existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dir
  }
  return undefined
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))))
    })
  })

/** The user the server runs as when we are root, and its uid/gid. */
const serverUser = async (): Promise<{ readonly name: string; readonly uid: number; readonly gid: number }> => {
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number((await run("id", ["-u", name])).trim())
      const gid = Number((await run("id", ["-g", name])).trim())
      if (Number.isInteger(uid) && uid > 0) return { name, uid, gid }
    } catch {
      // try the next one
    }
  }
  throw new Error("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
}

/** Starts a fresh server; call `stop()` when done (in `afterAll`). */
export const startPostgres = async (options: PostgresOptions = {}): Promise<PostgresServer> => {
  const bin = findPostgresBin()
  if (bin === undefined) throw new Error("PostgreSQL not found (initdb, pg_ctl): apt-get install -y postgresql")
  const root = process.getuid?.() === 0
  const as = root ? await serverUser() : undefined
  const directory = mkdtempSync(join(tmpdir(), "effect-lightning-pg-"))
  const data = join(directory, "data")
  if (as !== undefined) {
    chownSync(directory, as.uid, as.gid)
    chmodSync(directory, 0o700)
  }
  /** Runs a server binary as the server's user. */
  const pg = (tool: string, args: ReadonlyArray<string>) =>
    as === undefined ? run(join(bin, tool), args) : run("runuser", ["-u", as.name, "--", join(bin, tool), ...args])
  const user = "postgres"
  const database = options.database ?? "store"
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    try {
      if (existsSync(join(data, "postmaster.pid"))) await pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  }
  try {
    await pg("initdb", ["-D", data, "-U", user, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
    const port = await freePort()
    const settings = [
      `-p ${port}`,
      "-c listen_addresses=127.0.0.1",
      `-c unix_socket_directories=${directory}`,
      `-c fsync=${options.fsync === false ? "off" : "on"}`,
      "-c max_connections=50",
      "-c shared_buffers=32MB"
    ].join(" ")
    await pg("pg_ctl", ["-D", data, "-o", settings, "-l", join(directory, "server.log"), "-w", "-t", "60", "start"])
    const psql = join(bin, "psql")
    const sql = async (db: string, statement: string) =>
      run(psql, ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-qc", statement], {
        env: { ...process.env, PGUSER: user, USER: userInfo().username }
      })
    const createDatabase = async (name: string) => {
      await sql("postgres", `CREATE DATABASE "${name}"`)
      return `postgres://${user}@127.0.0.1:${port}/${name}`
    }
    const url = await createDatabase(database)
    return { url, host: "127.0.0.1", port, database, user, directory, createDatabase, stop }
  } catch (e) {
    await stop()
    throw e
  }
}
