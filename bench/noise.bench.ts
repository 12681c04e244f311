/**
 * BOLT 8 transport and handshake speed, all measured in one run:
 *  - raw ChaCha20-Poly1305 (one encrypt + one decrypt of the message, no framing) for each
 *    implementation, the floor our framing is compared with;
 *  - our BOLT 8 framing (`encryptMessage`, then `decryptHeader` + `decryptBody` as a Peer does)
 *    with each implementation, and the ratio framed/raw;
 *  - `@node-lightning/noise` 0.26.1 (`NoiseState`; node:crypto, native libsecp256k1 prebuild);
 *  - full handshakes per second (both sides in one process).
 * "64 KiB" messages are 65535 bytes, the largest BOLT 8 allows.
 *
 * Method: each case runs in its own worker thread, so the JIT of one case is not polluted by
 * the others (in a real node only one cipher implementation is ever used, and the transport
 * code stays monomorphic). The main thread asks the workers in turn for one round each, ROUNDS
 * times, so a disturbance hits all cases alike; a round's time is the worker's CPU time
 * (`process.cpuUsage` is per process, but only one worker runs at a time), after a forced GC.
 * The figure is the best round: on a shared machine the best round is the least disturbed.
 *
 * Reading the ratios (measured on this machine, 2 cores, Node 24.9):
 *  - 64 KiB: BOLT 8 adds an 18-byte box to a ~50 us OpenSSL seal; what costs is memory. `encryptMessage` must return one packet, and
 *    node:crypto cannot write into a caller's buffer, so OpenSSL's output is copied into a fresh
 *    64 KiB packet, and allocating fresh 64 KiB costs ~10 us (page faults), ~10-30% of the
 *    round trip. `encryptMessageParts` returns OpenSSL's own buffers instead: ~95-100% of bare
 *    OpenSSL.
 *  - 100 B: OpenSSL's ~3-5 us fixed cost per call would dominate, so the node implementation
 *    sends inputs up to 2 KiB to libsodium (WebAssembly, ~1 us per call). BOLT 8 needs two AEAD
 *    calls per message and direction (the 2-byte length box, then the body) where the raw
 *    figure makes one, so the framed figure is about half the raw one: that second call is
 *    cryptographic work BOLT 8 requires, not framing overhead; bookkeeping is ~3% of a profile.
 */
import { createCipheriv, createDecipheriv } from "node:crypto"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { Result } from "effect"
import type { NoiseState as NoiseStateClass } from "@node-lightning/noise"
import { nodeChaChaPoly } from "../src/layers/crypto/aead-node.ts"
import { wasmSecp256k1 } from "../src/layers/crypto/secp256k1-wasm.ts"
import { loadNativeSecp256k1 } from "../src/layers/crypto/secp256k1-native.ts"
import { allocateShortLived, detach, nobleChaChaPoly, TAG_LENGTH, type ChaChaPoly } from "../src/protocol/crypto/aead.ts"
import { nobleSecp256k1, type Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import {
  decryptBody,
  decryptHeader,
  encryptMessage,
  encryptMessageParts,
  HEADER_LENGTH,
  initiatorActOne,
  initiatorActThree,
  initiatorActTwo,
  makeCipherState,
  responderActOne,
  responderActThree,
  responderActTwo,
  responderStart,
  type CipherState,
  type NoiseCrypto
} from "../src/protocol/noise/index.ts"

const ROUNDS = 7
const ROUND_MS = 300

const fill = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

/** CPU time of this process in milliseconds. */
const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

/** Runs `op` (which performs `batch` operations) repeatedly for about ROUND_MS of CPU; ops per CPU second. */
const measure = (op: () => void, batch: number): number => {
  gc()
  let ops = 0
  const start = cpuMs()
  let now = start
  while (now - start < ROUND_MS) {
    op()
    ops += batch
    now = cpuMs()
  }
  return (ops * 1000) / (now - start)
}

const KEY = fill(32, 1)
const CK = fill(32, 2)
const NONCE = new Uint8Array(12)
const EMPTY = new Uint8Array(0)

/** One encrypt + one decrypt through the `ChaChaPoly` interface. */
const rawInterface = (aead: ChaChaPoly, message: Uint8Array) => (): void => {
  const sealed = aead.encrypt(KEY, NONCE, EMPTY, message)
  if (aead.decrypt(KEY, NONCE, EMPTY, sealed) === undefined) throw new Error("raw decrypt failed")
}

const LENGTH_PREFIX = new Uint8Array(2)

/**
 * The cryptographic work BOLT 8 requires per message, as bare calls through the same
 * `ChaChaPoly` with no framing and no state: seal and open the 2-byte length, seal and open the
 * body. Any BOLT 8 implementation on this cipher does at least this; the gap between it and
 * our framed figure is what framing and bookkeeping cost.
 */
const bolt8Work = (aead: ChaChaPoly, message: Uint8Array) => (): void => {
  const header = aead.encrypt(KEY, NONCE, EMPTY, LENGTH_PREFIX)
  const body = aead.encrypt(KEY, NONCE, EMPTY, message)
  if (aead.decrypt(KEY, NONCE, EMPTY, header) === undefined) throw new Error("raw header decrypt failed")
  if (aead.decrypt(KEY, NONCE, EMPTY, body) === undefined) throw new Error("raw body decrypt failed")
}

/**
 * A cipher that does no cryptography (copies only), for measuring what our framing and
 * bookkeeping cost by themselves: the framed figure with it, against the framed figure with
 * the real cipher, is the share of time that is not cryptography.
 */
const noCipher: ChaChaPoly = {
  name: "none",
  allocate: allocateShortLived,
  encrypt: (_key, _nonce, _ad, plaintext) => {
    const out = new Uint8Array(plaintext.length + TAG_LENGTH)
    out.set(plaintext)
    return out
  },
  encryptInto: (_key, _nonce, _ad, plaintext, out, offset) => out.set(plaintext, offset),
  encryptDetached: (_key, _nonce, _ad, plaintext) => detach(noCipher.encrypt(_key, _nonce, _ad, plaintext)),
  decrypt: (_key, _nonce, _ad, sealed) => sealed.subarray(0, sealed.length - TAG_LENGTH)
}

/** One encrypt straight on node:crypto, the least work Node allows. */
const bareEncrypt = (message: Uint8Array) => {
  const c = createCipheriv("chacha20-poly1305", KEY, NONCE, { authTagLength: 16 })
  const ciphertext = c.update(message)
  c.final()
  return { ciphertext, tag: c.getAuthTag() }
}

/** One decrypt straight on node:crypto. */
const bareDecrypt = (ciphertext: Uint8Array, tag: Uint8Array): void => {
  const d = createDecipheriv("chacha20-poly1305", KEY, NONCE, { authTagLength: 16 })
  d.setAuthTag(tag)
  d.update(ciphertext)
  d.final()
}

const rawNodeCrypto = (message: Uint8Array) => (): void => {
  const { ciphertext, tag } = bareEncrypt(message)
  bareDecrypt(ciphertext, tag)
}

/** Our framing: encrypt a message, then receive it header first as a Peer does. */
const framed = (aead: ChaChaPoly, message: Uint8Array) => {
  let send: CipherState = makeCipherState(KEY, CK)
  let receive: CipherState = makeCipherState(KEY, CK)
  return (): void => {
    const out = encryptMessage(aead, send, message)
    if (Result.isFailure(out)) throw new Error("encrypt failed")
    send = out.success.state
    const packet = out.success.packet
    const pending = decryptHeader(aead, receive, packet.subarray(0, HEADER_LENGTH))
    if (Result.isFailure(pending)) throw new Error("header failed")
    const body = decryptBody(aead, pending.success, packet.subarray(HEADER_LENGTH))
    if (Result.isFailure(body)) throw new Error("body failed")
    receive = body.success.state
  }
}

/** Sending only: contiguous packets, or zero-copy parts. */
const sendOnly = (aead: ChaChaPoly, message: Uint8Array, parts: boolean) => {
  let send: CipherState = makeCipherState(KEY, CK)
  return (): void => {
    if (parts) {
      const out = encryptMessageParts(aead, send, message)
      if (Result.isFailure(out)) throw new Error("encrypt failed")
      send = out.success.state
    } else {
      const out = encryptMessage(aead, send, message)
      if (Result.isFailure(out)) throw new Error("encrypt failed")
      send = out.success.state
    }
  }
}

/** Receiving only: a prepared run of packets, decrypted header then body, over and over. */
const receiveOnly = (aead: ChaChaPoly, message: Uint8Array, count: number) => {
  const start = makeCipherState(KEY, CK)
  const packets: Array<Uint8Array> = []
  let send = start
  for (let i = 0; i < count; i++) {
    const out = Result.getOrThrow(encryptMessage(aead, send, message))
    packets.push(out.packet)
    send = out.state
  }
  let receive = start
  let i = 0
  return (): void => {
    if (i === count) {
      i = 0
      receive = start
    }
    const packet = packets[i++] ?? new Uint8Array(0)
    const pending = decryptHeader(aead, receive, packet.subarray(0, HEADER_LENGTH))
    if (Result.isFailure(pending)) throw new Error("header failed")
    const body = decryptBody(aead, pending.success, packet.subarray(HEADER_LENGTH))
    if (Result.isFailure(body)) throw new Error("body failed")
    receive = body.success.state
  }
}

const LS_I = fill(32, 0x11).fill(0x11)
const LS_R = fill(32, 0x21).fill(0x21)
const E_I = new Uint8Array(32).fill(0x12)
const E_R = new Uint8Array(32).fill(0x22)

/**
 * `@node-lightning/noise` loads a native addon (libsecp256k1) that crashes the process when a
 * worker thread holding it is terminated, so its cases run on the main thread, loaded lazily.
 */
let NoiseState: typeof NoiseStateClass | undefined
const loadNodeLightning = async (): Promise<void> => {
  NoiseState = (await import("@node-lightning/noise")).NoiseState
}

const handshakePair = () => {
  if (NoiseState === undefined) throw new Error("@node-lightning/noise not loaded")
  const rpk = nobleSecp256k1.publicKey(LS_R)
  if (rpk === undefined) throw new Error("bad key")
  const initiator = new NoiseState({ ls: Buffer.from(LS_I), es: Buffer.from(E_I) })
  const responder = new NoiseState({ ls: Buffer.from(LS_R), es: Buffer.from(E_R) })
  const a1 = initiator.initiatorAct1(Buffer.from(rpk))
  responder.receiveAct1(a1)
  initiator.initiatorAct2(responder.recieveAct2())
  responder.receiveAct3(initiator.initiatorAct3())
  return { initiator, responder }
}

/** `@node-lightning/noise`: encryptMessage, then decryptLength + decryptMessage. */
const nodeLightning = (message: Uint8Array) => {
  const { initiator, responder } = handshakePair()
  const m = Buffer.from(message)
  return (): void => {
    const packet = initiator.encryptMessage(m)
    const length = responder.decryptLength(packet.subarray(0, HEADER_LENGTH))
    if (length !== m.length) throw new Error("node-lightning length mismatch")
    responder.decryptMessage(packet.subarray(HEADER_LENGTH))
  }
}

const ecdhOrThrow = (secp: Secp256k1, secret: Uint8Array, point: Uint8Array): Uint8Array => {
  const ss = secp.ecdh(secret, point)
  if (ss === undefined) throw new Error("ecdh failed")
  return ss
}

/** One full handshake, both sides, with the node secrets' ECDH done as a signer would. */
const ourHandshake = (crypto: NoiseCrypto) => {
  const lsI = crypto.secp.publicKey(LS_I)
  const lsR = crypto.secp.publicKey(LS_R)
  if (lsI === undefined || lsR === undefined) throw new Error("bad key")
  return (): void => {
    const i1 = Result.getOrThrow(initiatorActOne(crypto, { localStatic: lsI, remoteStatic: lsR, ephemeralSecret: E_I }))
    const r0 = Result.getOrThrow(responderStart(crypto, { localStatic: lsR, ephemeralSecret: E_R }))
    const r1 = Result.getOrThrow(responderActOne(crypto, r0, i1.act))
    const r2 = Result.getOrThrow(responderActTwo(crypto, r1, ecdhOrThrow(crypto.secp, LS_R, r1.point)))
    const i2 = Result.getOrThrow(initiatorActTwo(crypto, i1.state, r2.act))
    const i3 = Result.getOrThrow(initiatorActThree(crypto, i2, ecdhOrThrow(crypto.secp, LS_I, i2.point)))
    Result.getOrThrow(responderActThree(crypto, r2.state, i3.act))
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

const combined = (enc: number, dec: number): number => 1 / (1 / enc + 1 / dec)

const SIZES = [
  { label: "64 KiB (65535 B)", bytes: 65535, batch: 4, packets: 32 },
  { label: "100 B", bytes: 100, batch: 200, packets: 2000 }
] as const

/** Every transport case by id: its label and the operation it repeats. */
const TRANSPORT_CASES = {
  rawNode: "raw OpenSSL (bare node:crypto calls)",
  rawNodeIface: "raw node ChaChaPoly (libsodium/OpenSSL)",
  workNode: "BOLT 8 work, bare node ChaChaPoly calls",
  ourNoCipher: "BOLT 8 ours, no cryptography (framing only)",
  ourNode: "BOLT 8 ours, node",
  rawNoble: "raw noble (ChaChaPoly)",
  ourNoble: "BOLT 8 ours, noble",
  nodeLightning: "BOLT 8 @node-lightning/noise 0.26.1",
  rawEnc: "raw OpenSSL encrypt",
  rawDec: "raw OpenSSL decrypt",
  ourEnc: "ours, node, encrypt (one packet)",
  ourEncParts: "ours, node, encrypt (parts, zero-copy)",
  ourDec: "ours, node, decrypt (header + body)"
} as const
type TransportCase = keyof typeof TRANSPORT_CASES

const HANDSHAKE_CASES = {
  hsNobleNode: "ours, noble secp256k1 + node ChaChaPoly",
  hsNobleNoble: "ours, noble secp256k1 + noble",
  hsNativeNode: "ours, native secp256k1 + node ChaChaPoly",
  hsWasmNode: "ours, WASM secp256k1 + node ChaChaPoly",
  hsWasmNoble: "ours, WASM secp256k1 + noble",
  hsNodeLightning: "@node-lightning/noise (native secp256k1)"
} as const
type HandshakeCase = keyof typeof HANDSHAKE_CASES

const transportOp = (id: TransportCase, bytes: number, packets: number): (() => void) => {
  const message = fill(bytes, 7)
  switch (id) {
    case "rawNode":
      return rawNodeCrypto(message)
    case "rawNodeIface":
      return rawInterface(nodeChaChaPoly, message)
    case "workNode":
      return bolt8Work(nodeChaChaPoly, message)
    case "ourNoCipher":
      return framed(noCipher, message)
    case "ourNode":
      return framed(nodeChaChaPoly, message)
    case "rawNoble":
      return rawInterface(nobleChaChaPoly, message)
    case "ourNoble":
      return framed(nobleChaChaPoly, message)
    case "nodeLightning":
      return nodeLightning(message)
    case "rawEnc":
      return () => void bareEncrypt(message)
    case "rawDec": {
      const sealed = bareEncrypt(message)
      return () => bareDecrypt(sealed.ciphertext, sealed.tag)
    }
    case "ourEnc":
      return sendOnly(nodeChaChaPoly, message, false)
    case "ourEncParts":
      return sendOnly(nodeChaChaPoly, message, true)
    case "ourDec":
      return receiveOnly(nodeChaChaPoly, message, packets)
  }
}

const handshakeOp = (id: HandshakeCase): (() => void) => {
  switch (id) {
    case "hsNobleNode":
      return ourHandshake({ secp: nobleSecp256k1, aead: nodeChaChaPoly })
    case "hsNobleNoble":
      return ourHandshake({ secp: nobleSecp256k1, aead: nobleChaChaPoly })
    case "hsNativeNode":
      return ourHandshake({ secp: Result.getOrThrow(loadNativeSecp256k1()), aead: nodeChaChaPoly })
    case "hsWasmNode":
      return ourHandshake({ secp: wasmSecp256k1, aead: nodeChaChaPoly })
    case "hsWasmNoble":
      return ourHandshake({ secp: wasmSecp256k1, aead: nobleChaChaPoly })
    case "hsNodeLightning":
      return () => void handshakePair()
  }
}

interface Job {
  readonly noiseBench: true
  readonly id: string
  readonly bytes: number
  readonly batch: number
  readonly packets: number
}

/** Worker side: build the case once, then measure one round per request. */
const serveWorker = (job: Job): void => {
  const single =
    job.id in TRANSPORT_CASES ? transportOp(job.id as TransportCase, job.bytes, job.packets) : handshakeOp(job.id as HandshakeCase)
  const op = (): void => {
    for (let i = 0; i < job.batch; i++) single()
  }
  parentPort?.on("message", () => parentPort?.postMessage(measure(op, job.batch)))
}

/** Main side: one worker per case, asked in turn for a round, ROUNDS times after a warm-up. */
const MAIN_THREAD_CASES: ReadonlySet<string> = new Set(["nodeLightning", "hsNodeLightning"])

const measureIsolated = async (jobs: ReadonlyArray<Job>): Promise<Map<string, number>> => {
  if (jobs.some((j) => MAIN_THREAD_CASES.has(j.id))) await loadNodeLightning()
  const workers = jobs.map((job) => {
    if (!MAIN_THREAD_CASES.has(job.id)) return { job, worker: new Worker(new URL(import.meta.url), { workerData: job }) }
    const single = job.id in TRANSPORT_CASES ? transportOp(job.id as TransportCase, job.bytes, job.packets) : handshakeOp(job.id as HandshakeCase)
    const op = (): void => {
      for (let i = 0; i < job.batch; i++) single()
    }
    return { job, worker: op }
  })
  const ask = (worker: Worker | (() => void), batch: number): Promise<number> =>
    typeof worker === "function" ? Promise.resolve(measure(worker, batch)) : askWorker(worker)
  const askWorker = (worker: Worker): Promise<number> =>
    new Promise((resolve, reject) => {
      const onError = (e: unknown) => reject(e instanceof Error ? e : new Error(String(e)))
      worker.once("message", (v: number) => {
        worker.off("error", onError)
        resolve(v)
      })
      worker.once("error", onError)
      worker.postMessage("round")
    })
  const best = new Map<string, number>()
  try {
    for (const { job, worker } of workers) await ask(worker, job.batch) // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const { job, worker } of workers) best.set(job.id, Math.max(best.get(job.id) ?? 0, await ask(worker, job.batch)))
    }
  } finally {
    await Promise.all(workers.map(({ worker }) => (typeof worker === "function" ? undefined : worker.terminate())))
  }
  return best
}

export async function run(): Promise<void> {
  console.log(`(per CPU second; each case in its own worker; best of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms)`)
  for (const size of SIZES) {
    const ids = Object.keys(TRANSPORT_CASES) as Array<TransportCase>
    const best = await measureIsolated(ids.map((id) => ({ noiseBench: true, id, bytes: size.bytes, batch: size.batch, packets: size.packets })))
    const get = (id: TransportCase): number => best.get(id) ?? 0
    const row = (name: string, perSecond: number) =>
      console.log(`  ${name.padEnd(42)} ${fmt((perSecond * size.bytes) / 1e6).padStart(9)} ${fmt(perSecond).padStart(10)}`)
    const pct = (a: number, b: number) => `${fmt((100 * a) / b, 1)}%`
    console.log(`\nencrypt+decrypt, ${size.label} messages`)
    console.log(`  ${"".padEnd(42)} ${"MB/s".padStart(9)} ${"msg/s".padStart(10)}`)
    const together: ReadonlyArray<TransportCase> = ["rawNode", "rawNodeIface", "workNode", "ourNode", "ourNoCipher", "rawNoble", "ourNoble", "nodeLightning"]
    for (const id of together) row(TRANSPORT_CASES[id], get(id))
    const partsCombined = combined(get("ourEncParts"), get("ourDec"))
    row("BOLT 8 ours, node, in parts (the Peer > 2 KiB)", partsCombined)
    console.log(
      `  framing + bookkeeping alone: ${fmt(1e6 / get("ourNoCipher"), 2)} us per message, ` +
        `${pct(get("ourNode") / get("ourNoCipher"), 1)} of our framed time with the node cipher`
    )
    console.log(
      `  against bare calls: ours is ${pct(get("ourNode"), get("workNode"))} of the same BOLT 8 work as bare calls ` +
        `(${pct(partsCombined, get("workNode"))} sending in parts, as the Peer does above 2 KiB)`
    )
    console.log(`  ratio ours/raw, node: ${pct(get("ourNode"), get("rawNodeIface"))} of one seal + open on the same ChaChaPoly, ${pct(get("ourNode"), get("rawNode"))} of bare OpenSSL`)
    console.log(`  ratio ours/raw, noble: ${pct(get("ourNoble"), get("rawNoble"))}`)
    console.log(`  ours (node) / @node-lightning/noise: ${fmt(get("ourNode") / get("nodeLightning"), 2)}x`)
    console.log(`  each direction alone:`)
    for (const id of ["rawEnc", "rawDec", "ourEnc", "ourEncParts", "ourDec"] as const) row(`  ${TRANSPORT_CASES[id]}`, get(id))
    const rawCombined = combined(get("rawEnc"), get("rawDec"))
    console.log(
      `  ratio to bare OpenSSL: encrypt ${pct(get("ourEnc"), get("rawEnc"))} (one packet), ${pct(get("ourEncParts"), get("rawEnc"))} (parts); ` +
        `decrypt ${pct(get("ourDec"), get("rawDec"))}; parts enc+dec ${pct(partsCombined, rawCombined)}`
    )
  }

  const hsIds = Object.keys(HANDSHAKE_CASES) as Array<HandshakeCase>
  const hs = await measureIsolated(hsIds.map((id) => ({ noiseBench: true, id, bytes: 0, batch: 1, packets: 0 })))
  console.log(`\nfull handshakes per CPU second (initiator + responder, 8 EC multiplications each)`)
  for (const id of hsIds) console.log(`  ${HANDSHAKE_CASES[id].padEnd(42)} ${fmt(hs.get(id) ?? 0).padStart(8)}/s`)
}

const job = workerData as Partial<Job> | null
if (!isMainThread && job !== null && job.noiseBench === true) serveWorker(job as Job)
