/**
 * BOLT 8 transport and handshake speed, all measured in one run:
 *  - raw ChaCha20-Poly1305 (one encrypt + one decrypt of the message, no framing) for each
 *    implementation, the floor our framing is compared with;
 *  - our BOLT 8 framing (`encryptMessage`, then `decryptHeader` + `decryptBody` as a Peer does)
 *    with each implementation, and the ratio framed/raw;
 *  - `@node-lightning/noise` 0.26 (`NoiseState`, node:crypto and native libsecp256k1);
 *  - full handshakes per second (both sides in one process).
 * "64 KiB" messages are 65535 bytes, the largest BOLT 8 allows. Time is this process's CPU
 * time (`process.cpuUsage`), not wall time, and each figure is the best of several interleaved
 * rounds: on a shared machine other processes would otherwise decide the numbers.
 */
import { createCipheriv, createDecipheriv } from "node:crypto"
import { Result } from "effect"
import { NoiseState } from "@node-lightning/noise"
import { nodeChaChaPoly, opensslChaChaPoly } from "../src/layers/crypto/aead-node.ts"
import { wasmSecp256k1 } from "../src/layers/crypto/secp256k1-wasm.ts"
import { compactChaChaPoly, nobleChaChaPoly, type ChaChaPoly } from "../src/protocol/crypto/aead.ts"
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

const ROUNDS = 5
const ROUND_MS = 400

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

/** Runs `op` (which performs `batch` operations) repeatedly for about ROUND_MS of CPU; ops per CPU second. */
const measure = (op: () => void, batch: number): number => {
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

interface Case {
  readonly name: string
  readonly op: () => void
  readonly batch: number
  best: number
}

const runCases = (cases: ReadonlyArray<Case>): void => {
  // Warm up every case once, then interleave rounds so a disturbance hits all cases alike.
  for (const c of cases) measure(c.op, c.batch)
  for (let r = 0; r < ROUNDS; r++) for (const c of cases) c.best = Math.max(c.best, measure(c.op, c.batch))
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

const handshakePair = () => {
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

export async function run(): Promise<void> {
  const sizes = [
    { label: "64 KiB (65535 B)", bytes: 65535, batch: 4, packets: 32 },
    { label: "100 B", bytes: 100, batch: 200, packets: 2000 }
  ]
  for (const size of sizes) {
    const message = fill(size.bytes, 7)
    const c = (name: string, f: () => void): Case => ({
      name,
      op: () => {
        for (let i = 0; i < size.batch; i++) f()
      },
      batch: size.batch,
      best: 0
    })
    const sealed = bareEncrypt(message)
    const cases = {
      rawNode: c("raw OpenSSL (bare node:crypto calls)", rawNodeCrypto(message)),
      rawNodeIface: c("raw node (ChaChaPoly: OpenSSL + compact)", rawInterface(nodeChaChaPoly, message)),
      ourNode: c("BOLT 8 ours, node", framed(nodeChaChaPoly, message)),
      ourOpenssl: c("BOLT 8 ours, OpenSSL only", framed(opensslChaChaPoly, message)),
      rawCompact: c("raw compact JS (ChaChaPoly)", rawInterface(compactChaChaPoly, message)),
      rawNoble: c("raw noble (ChaChaPoly)", rawInterface(nobleChaChaPoly, message)),
      ourNoble: c("BOLT 8 ours, noble", framed(nobleChaChaPoly, message)),
      nodeLightning: c("BOLT 8 @node-lightning/noise 0.26.1", nodeLightning(message))
    }
    const halves = {
      rawEnc: c("raw OpenSSL encrypt", () => void bareEncrypt(message)),
      rawDec: c("raw OpenSSL decrypt", () => bareDecrypt(sealed.ciphertext, sealed.tag)),
      ourEnc: c("ours, node, encrypt (one packet)", sendOnly(nodeChaChaPoly, message, false)),
      ourEncParts: c("ours, node, encrypt (parts, zero-copy)", sendOnly(nodeChaChaPoly, message, true)),
      ourDec: c("ours, node, decrypt (header + body)", receiveOnly(nodeChaChaPoly, message, size.packets))
    }
    runCases([...Object.values(cases), ...Object.values(halves)])
    const row = (name: string, perSecond: number) =>
      console.log(`  ${name.padEnd(42)} ${fmt((perSecond * size.bytes) / 1e6).padStart(9)} ${fmt(perSecond).padStart(10)}`)
    const pct = (a: number, b: number) => `${fmt((100 * a) / b, 1)}%`
    console.log(`\nencrypt+decrypt, ${size.label} messages (per CPU second, best of ${ROUNDS} rounds of ${ROUND_MS} ms)`)
    console.log(`  ${"".padEnd(42)} ${"MB/s".padStart(9)} ${"msg/s".padStart(10)}`)
    for (const k of Object.values(cases)) row(k.name, k.best)
    const partsCombined = combined(halves.ourEncParts.best, halves.ourDec.best)
    row("BOLT 8 ours, node, parts (enc/dec apart)", partsCombined)
    console.log(`  ratio ours/raw, node: ${pct(cases.ourNode.best, cases.rawNode.best)} of bare OpenSSL, ${pct(cases.ourNode.best, cases.rawNodeIface.best)} of the node ChaChaPoly`)
    console.log(`  ratio ours/raw, OpenSSL only: ${pct(cases.ourOpenssl.best, cases.rawNode.best)} of bare OpenSSL`)
    console.log(`  ratio ours/raw, noble: ${pct(cases.ourNoble.best, cases.rawNoble.best)}`)
    console.log(`  ours (node) / @node-lightning/noise: ${fmt(cases.ourNode.best / cases.nodeLightning.best, 2)}x`)
    console.log(`  each direction alone:`)
    for (const k of Object.values(halves)) row(`  ${k.name}`, k.best)
    const rawCombined = combined(halves.rawEnc.best, halves.rawDec.best)
    console.log(`  ratio to bare OpenSSL: encrypt ${pct(halves.ourEnc.best, halves.rawEnc.best)} (one packet), ${pct(halves.ourEncParts.best, halves.rawEnc.best)} (parts); decrypt ${pct(halves.ourDec.best, halves.rawDec.best)}; parts enc+dec ${pct(partsCombined, rawCombined)}`)
  }

  const hs = [
    { name: "ours, noble secp256k1 + node:crypto", op: ourHandshake({ secp: nobleSecp256k1, aead: nodeChaChaPoly }), batch: 1, best: 0 },
    { name: "ours, noble secp256k1 + noble", op: ourHandshake({ secp: nobleSecp256k1, aead: nobleChaChaPoly }), batch: 1, best: 0 },
    { name: "ours, WASM secp256k1 + node:crypto", op: ourHandshake({ secp: wasmSecp256k1, aead: nodeChaChaPoly }), batch: 1, best: 0 },
    { name: "ours, WASM secp256k1 + noble", op: ourHandshake({ secp: wasmSecp256k1, aead: nobleChaChaPoly }), batch: 1, best: 0 },
    { name: "@node-lightning/noise (native secp256k1)", op: () => void handshakePair(), batch: 1, best: 0 }
  ]
  runCases(hs)
  console.log(`\nfull handshakes per CPU second (initiator + responder, 8 EC multiplications each)`)
  for (const h of hs) console.log(`  ${h.name.padEnd(42)} ${fmt(h.best).padStart(8)}/s`)
}
