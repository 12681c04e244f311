/**
 * A real Bitcoin script interpreter for tests: `bitcore-lib`'s `Script.Interpreter` (pure JS,
 * a port of Bitcoin Core's `VerifyScript`), wrapped in a small typed API over raw bytes.
 *
 * "Scripts really spend": a transaction built by `src/protocol/tx` is serialized, parsed here by
 * an independent implementation, and each input is evaluated against the output it spends
 * (script and amount: BIP 143 commits to the amount, so a wrong amount must fail too), with
 * the consensus and standardness flags that matter for Lightning scripts.
 *
 * bitcore-lib ships no type declarations, so it is loaded with `createRequire` and described
 * by the few members used here.
 */
import { createRequire } from "node:module"
import { toHex } from "../../src/protocol/bytes.ts"

interface BScript {
  toBuffer(): Buffer
}
interface BInput {
  readonly prevTxId: Buffer
  readonly outputIndex: number
  readonly sequenceNumber: number
  readonly script: BScript
  getWitnesses(): Array<Buffer> | null
}
interface BOutput {
  readonly script: BScript
  readonly satoshis: number
}
interface BTransaction {
  readonly hash: string
  readonly version: number
  readonly nLockTime: number
  readonly inputs: ReadonlyArray<BInput>
  readonly outputs: ReadonlyArray<BOutput>
}
interface BInterpreter {
  errstr: string
  verify(
    scriptSig: BScript,
    scriptPubkey: BScript,
    tx: BTransaction,
    nin: number,
    flags: number,
    witness: ReadonlyArray<Buffer>,
    satoshis: number
  ): boolean
}
interface InterpreterCtor {
  new (): BInterpreter
  readonly SCRIPT_VERIFY_P2SH: number
  readonly SCRIPT_VERIFY_STRICTENC: number
  readonly SCRIPT_VERIFY_DERSIG: number
  readonly SCRIPT_VERIFY_LOW_S: number
  readonly SCRIPT_VERIFY_NULLDUMMY: number
  readonly SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY: number
  readonly SCRIPT_VERIFY_CHECKSEQUENCEVERIFY: number
  readonly SCRIPT_VERIFY_WITNESS: number
  readonly SCRIPT_VERIFY_MINIMALIF: number
  readonly SCRIPT_VERIFY_NULLFAIL: number
  readonly SCRIPT_VERIFY_WITNESS_PUBKEYTYPE: number
}
interface Bitcore {
  readonly Transaction: new (serialized: string) => BTransaction
  readonly Script: { new (buf: Buffer): BScript; readonly Interpreter: InterpreterCtor }
}

const bitcore = createRequire(import.meta.url)("bitcore-lib") as Bitcore
const I = bitcore.Script.Interpreter

/**
 * Consensus rules (P2SH, segwit, CLTV, CSV, strict DER, NULLDUMMY) plus the standardness rules
 * Lightning transactions must meet to relay: low S, strict encodings, MINIMALIF in witness
 * scripts, NULLFAIL, compressed keys in segwit. (bitcore's CLEANSTACK check reads the P2SH
 * stack copy even for witness spends, so it is left out; witness v0 scripts must leave exactly
 * one element anyway, which bitcore enforces.)
 */
export const STANDARD_FLAGS =
  I.SCRIPT_VERIFY_P2SH |
  I.SCRIPT_VERIFY_STRICTENC |
  I.SCRIPT_VERIFY_DERSIG |
  I.SCRIPT_VERIFY_LOW_S |
  I.SCRIPT_VERIFY_NULLDUMMY |
  I.SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY |
  I.SCRIPT_VERIFY_CHECKSEQUENCEVERIFY |
  I.SCRIPT_VERIFY_WITNESS |
  I.SCRIPT_VERIFY_MINIMALIF |
  I.SCRIPT_VERIFY_NULLFAIL |
  I.SCRIPT_VERIFY_WITNESS_PUBKEYTYPE

/** What an input spends: the previous output's scriptPubKey and amount in satoshis. */
export interface Prevout {
  readonly script: Uint8Array
  readonly value: bigint
}

/** A transaction as the interpreter parsed it (enough to chain spends in tests). */
export interface ParsedTx {
  /** txid, big-endian hex as block explorers show it. */
  readonly txid: string
  readonly version: number
  readonly locktime: number
  readonly inputs: ReadonlyArray<{ readonly txid: string; readonly vout: number; readonly sequence: number; readonly witness: ReadonlyArray<Uint8Array> }>
  readonly outputs: ReadonlyArray<Prevout>
}

const toBitcoreTx = (tx: Uint8Array | string): BTransaction => new bitcore.Transaction(typeof tx === "string" ? tx : toHex(tx))

export const parseTx = (tx: Uint8Array | string): ParsedTx => {
  const t = toBitcoreTx(tx)
  return {
    txid: t.hash,
    version: t.version,
    locktime: t.nLockTime,
    inputs: t.inputs.map((i) => ({
      txid: i.prevTxId.toString("hex"),
      vout: i.outputIndex,
      sequence: i.sequenceNumber,
      witness: (i.getWitnesses() ?? []).map((w) => Uint8Array.from(w))
    })),
    outputs: t.outputs.map((o) => ({ script: Uint8Array.from(o.script.toBuffer()), value: BigInt(o.satoshis) }))
  }
}

export interface Verdict {
  readonly ok: boolean
  /** bitcore's SCRIPT_ERR_* string when rejected ("" when accepted). */
  readonly error: string
}

/** Evaluates input `index` of `tx` against the output it spends. Never throws: a crash is a rejection. */
export const verifyInput = (tx: Uint8Array | string, index: number, prevout: Prevout, flags: number = STANDARD_FLAGS): Verdict => {
  try {
    const t = toBitcoreTx(tx)
    const input = t.inputs[index]
    if (input === undefined) return { ok: false, error: `no input ${index}` }
    const interpreter = new I()
    const ok = interpreter.verify(
      input.script,
      new bitcore.Script(Buffer.from(prevout.script)),
      t,
      index,
      flags,
      input.getWitnesses() ?? [],
      Number(prevout.value)
    )
    return { ok, error: ok ? "" : interpreter.errstr }
  } catch (e) {
    return { ok: false, error: `exception: ${String(e)}` }
  }
}

/**
 * Transaction-level timelocks, which no script interpreter checks (Bitcoin Core's `IsFinalTx`
 * and BIP 68 `SequenceLocks`), for height-based locks only. An HTLC-timeout transaction has no
 * CLTV in its script: its nLockTime, fixed under the counterparty's signature, is what keeps it
 * out of the chain until `cltv_expiry`.
 */
export const isFinalAt = (tx: Uint8Array | string, nextBlockHeight: number, medianTimePast = 1_700_000_000): boolean => {
  const t = parseTx(tx)
  if (t.locktime === 0) return true
  // Commitment transactions carry 0x20 in the top byte: a 1987 timestamp, always in the past.
  if (t.locktime < (t.locktime < 500_000_000 ? nextBlockHeight : medianTimePast)) return true
  return t.inputs.every((i) => i.sequence === 0xffffffff)
}

/** BIP 68: each input with a relative (block) lock needs that many blocks since its prevout confirmed. */
export const relativeLocksSatisfied = (tx: Uint8Array | string, prevoutHeights: ReadonlyArray<number>, nextBlockHeight: number): boolean => {
  const t = parseTx(tx)
  if (t.version < 2) return true
  return t.inputs.every((input, k) => {
    if ((input.sequence & 0x80000000) !== 0) return true
    if ((input.sequence & 0x00400000) !== 0) throw new Error("time-based relative locks are not modelled")
    const confirmed = prevoutHeights[k]
    if (confirmed === undefined) return false
    return nextBlockHeight - confirmed >= (input.sequence & 0xffff)
  })
}

/** Every input of `tx`, each against its prevout (same order as the inputs). */
export const verifyTx = (tx: Uint8Array | string, prevouts: ReadonlyArray<Prevout>, flags: number = STANDARD_FLAGS): Verdict => {
  const t = parseTx(tx)
  if (t.inputs.length !== prevouts.length) return { ok: false, error: `${t.inputs.length} inputs, ${prevouts.length} prevouts` }
  for (let i = 0; i < prevouts.length; i++) {
    const prevout = prevouts[i]
    if (prevout === undefined) return { ok: false, error: "missing prevout" }
    const v = verifyInput(tx, i, prevout, flags)
    if (!v.ok) return { ok: false, error: `input ${i}: ${v.error}` }
  }
  return { ok: true, error: "" }
}
