/**
 * Bitcoin blocks as the chain services carry them: the 80-byte header (its codec and hash), a
 * whole block (header, transactions, their txids), and the merkle root. Generic Bitcoin, nothing
 * Lightning-specific; hashes are in internal (serialization) byte order like `Txid`, and
 * `blockHashToHex` gives the display order that `bitcoind` prints and takes.
 */
import { Brand, Data, Result } from "effect"
import { fromHex, toHex } from "../bytes.ts"
import { checkedBrand } from "../units.ts"
import { hash256 } from "../tx/bitcoin/hash.ts"
import { decodeTransactionAt, serializeTransaction, type Transaction, txid as computeTxid, type Txid } from "../tx/bitcoin/transaction.ts"
import { Writer as ByteWriter } from "../codec/writer.ts"

/** A block hash (double SHA-256 of the header), 32 bytes in internal order. */
export type BlockHash = Uint8Array & Brand.Brand<"BlockHash">

/** The brand's constructor: 32 bytes, else a `BrandError` (a caller bug; peer input goes through `blockHash`). */
export const BlockHash = checkedBrand<BlockHash>((b) => b.length === 32 || `a block hash is 32 bytes, got ${b.length}`)

export class InvalidBlockHash extends Data.TaggedError("InvalidBlockHash")<{ readonly reason: string }> {}

/** Validating constructor: exactly 32 bytes (internal order). */
export const blockHash = (bytes: Uint8Array): Result.Result<BlockHash, InvalidBlockHash> =>
  bytes.length === 32
    ? Result.succeed(BlockHash(Uint8Array.from(bytes)))
    : Result.fail(new InvalidBlockHash({ reason: `expected 32 bytes, got ${bytes.length}` }))

/** Parses display-order hex (as `bitcoind` prints it). */
export const blockHashFromHex = (hex: string): Result.Result<BlockHash, InvalidBlockHash> => {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return Result.fail(new InvalidBlockHash({ reason: `not 64 hex digits: ${hex.slice(0, 80)}` }))
  return blockHash(fromHex(hex).reverse())
}

export const blockHashToHex = (hash: BlockHash): string => toHex(Uint8Array.from(hash).reverse())

/** The all-zero hash (the genesis block's `prevHash`). */
export const ZERO_HASH: BlockHash = BlockHash(new Uint8Array(32))

/** The 80-byte header's fields, its hash, and (when known) its height. */
export interface BlockHeader {
  readonly hash: BlockHash
  readonly height: number
  readonly version: number
  readonly prevHash: BlockHash
  readonly merkleRoot: Uint8Array
  readonly time: number
  readonly bits: number
  readonly nonce: number
  /** The serialized header (80 bytes). */
  readonly raw: Uint8Array
}

/** A block: its header, its transactions in block order, and their txids (same order). */
export interface Block {
  readonly header: BlockHeader
  readonly transactions: ReadonlyArray<Transaction>
  readonly txids: ReadonlyArray<Txid>
}

/** A block on some chain: its height and hash. */
export interface BlockRef {
  readonly height: number
  readonly hash: BlockHash
}

export const refOf = (header: BlockHeader): BlockRef => ({ height: header.height, hash: header.hash })

export class BlockDecodeError extends Data.TaggedError("BlockDecodeError")<{ readonly offset: number; readonly reason: string }> {}

export interface HeaderFields {
  readonly version: number
  readonly prevHash: BlockHash
  readonly merkleRoot: Uint8Array
  readonly time: number
  readonly bits: number
  readonly nonce: number
}

/** Serializes the header fields (80 bytes) and hashes them. */
export const makeHeader = (fields: HeaderFields, height: number): BlockHeader => {
  const raw = new ByteWriter(80)
    .u32le(fields.version)
    .bytes(fields.prevHash)
    .bytes(fields.merkleRoot)
    .u32le(fields.time)
    .u32le(fields.bits)
    .u32le(fields.nonce)
    .finish()
  return { ...fields, hash: BlockHash(hash256(raw)), height, raw }
}

const u32At = (b: Uint8Array, p: number): number => ((b[p] ?? 0) | ((b[p + 1] ?? 0) << 8) | ((b[p + 2] ?? 0) << 16)) + (b[p + 3] ?? 0) * 0x1000000

/** Decodes an 80-byte header; `height` is the caller's knowledge (headers do not carry it). */
export const decodeHeader = (raw: Uint8Array, height: number): Result.Result<BlockHeader, BlockDecodeError> => {
  if (raw.length !== 80) return Result.fail(new BlockDecodeError({ offset: 0, reason: `a header is 80 bytes, got ${raw.length}` }))
  const bytes = Uint8Array.from(raw)
  return Result.succeed({
    hash: BlockHash(hash256(bytes)),
    height,
    version: u32At(bytes, 0) | 0,
    prevHash: BlockHash(bytes.slice(4, 36)),
    merkleRoot: bytes.slice(36, 68),
    time: u32At(bytes, 68),
    bits: u32At(bytes, 72),
    nonce: u32At(bytes, 76),
    raw: bytes
  })
}

/** The merkle root of txids (internal order), duplicating the last of an odd level (Bitcoin's rule). */
export const merkleRoot = (txids: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (txids.length === 0) return new Uint8Array(32)
  let level: Array<Uint8Array> = [...txids]
  while (level.length > 1) {
    const next: Array<Uint8Array> = []
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i] ?? new Uint8Array(32)
      const b = level[i + 1] ?? a
      const both = new Uint8Array(64)
      both.set(a, 0)
      both.set(b, 32)
      next.push(hash256(both))
    }
    level = next
  }
  return level[0] ?? new Uint8Array(32)
}

/** Serializes a block (header, CompactSize count, transactions with witnesses). */
export const serializeBlock = (block: Block): Uint8Array => {
  const w = new ByteWriter(80 + 1 + block.transactions.length * 256)
  w.bytes(block.header.raw).compactSize(block.transactions.length)
  for (const tx of block.transactions) w.bytes(serializeTransaction(tx))
  return w.finish()
}

/** Decodes a serialized block (as `getblock <hash> 0` returns it); `height` is the caller's knowledge. */
export const decodeBlock = (bytes: Uint8Array, height: number): Result.Result<Block, BlockDecodeError> => {
  const header = decodeHeader(bytes.subarray(0, 80), height)
  if (Result.isFailure(header)) return Result.fail(header.failure)
  let p = 80
  const first = bytes[p]
  if (first === undefined) return Result.fail(new BlockDecodeError({ offset: p, reason: "no transaction count" }))
  let count: number
  if (first < 0xfd) {
    count = first
    p += 1
  } else if (first === 0xfd) {
    count = (bytes[p + 1] ?? 0) | ((bytes[p + 2] ?? 0) << 8)
    p += 3
  } else if (first === 0xfe) {
    count = u32At(bytes, p + 1)
    p += 5
  } else return Result.fail(new BlockDecodeError({ offset: p, reason: "transaction count too large" }))
  // Every transaction is at least 60 bytes: a count beyond that is a lie (bounds the loop).
  if (count === 0 || count > (bytes.length - p) / 60) return Result.fail(new BlockDecodeError({ offset: 80, reason: `implausible transaction count ${count}` }))
  const transactions: Array<Transaction> = []
  const txids: Array<Txid> = []
  for (let i = 0; i < count; i++) {
    const tx = decodeTransactionAt(bytes, p)
    if (Result.isFailure(tx)) return Result.fail(new BlockDecodeError({ offset: tx.failure.offset, reason: `transaction ${i}: ${tx.failure.reason}` }))
    transactions.push(tx.success.tx)
    txids.push(computeTxid(tx.success.tx))
    p = tx.success.end
  }
  if (p !== bytes.length) return Result.fail(new BlockDecodeError({ offset: p, reason: "trailing bytes after the last transaction" }))
  return Result.succeed({ header: header.success, transactions, txids })
}

/** Whether a transaction is a coinbase (one input spending the null outpoint). */
export const isCoinbase = (tx: Transaction): boolean => {
  const only = tx.inputs[0]
  return tx.inputs.length === 1 && only !== undefined && only.prevout.vout === 0xffffffff && only.prevout.txid.every((b) => b === 0)
}
