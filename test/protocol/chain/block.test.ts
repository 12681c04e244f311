import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { concatBytes, fromHex, toHex } from "../../../src/protocol/bytes.ts"
import {
  blockHashFromHex,
  blockHashToHex,
  decodeBlock,
  decodeHeader,
  isCoinbase,
  makeHeader,
  merkleRoot,
  serializeBlock,
  ZERO_HASH
} from "../../../src/protocol/chain/block.ts"
import { hash256 } from "../../../src/protocol/tx/bitcoin/hash.ts"
import { txidToHex } from "../../../src/protocol/tx/bitcoin/transaction.ts"

// The regtest genesis block (public constant: Bitcoin Core's chainparams, as bcoin serves it).
const GENESIS_HEADER =
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f2002000000"
const GENESIS_COINBASE =
  "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
const GENESIS = fromHex(`${GENESIS_HEADER}01${GENESIS_COINBASE}`)

describe("blocks", () => {
  it("decodes the regtest genesis block: hash, merkle root, coinbase", () => {
    const block = decodeBlock(GENESIS, 0)
    assert.isTrue(Result.isSuccess(block))
    if (!Result.isSuccess(block)) return
    const b = block.success
    assert.strictEqual(blockHashToHex(b.header.hash), "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")
    assert.strictEqual(txidToHex(b.txids[0]!), "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")
    assert.strictEqual(toHex(merkleRoot(b.txids)), toHex(b.header.merkleRoot))
    assert.strictEqual(b.header.time, 1296688602)
    assert.strictEqual(b.header.bits, 0x207fffff)
    assert.deepStrictEqual(b.header.prevHash, ZERO_HASH)
    assert.isTrue(isCoinbase(b.transactions[0]!))
    assert.strictEqual(toHex(serializeBlock(b)), toHex(GENESIS))
  })

  it("refuses truncated blocks, trailing bytes, empty or implausible counts", () => {
    assert.isTrue(Result.isFailure(decodeBlock(GENESIS.subarray(0, GENESIS.length - 1), 0)))
    assert.isTrue(Result.isFailure(decodeBlock(concatBytes(GENESIS, Uint8Array.of(0)), 0)))
    assert.isTrue(Result.isFailure(decodeBlock(concatBytes(fromHex(GENESIS_HEADER), Uint8Array.of(0)), 0)))
    assert.isTrue(Result.isFailure(decodeBlock(concatBytes(fromHex(GENESIS_HEADER), Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0x00)), 0)))
    assert.isTrue(Result.isFailure(decodeHeader(new Uint8Array(79), 0)))
  })

  it("headers round-trip; hashes parse and print in display order", () => {
    const fields = { version: 0x20000000, prevHash: ZERO_HASH, merkleRoot: new Uint8Array(32).fill(7), time: 1_700_000_000, bits: 0x207fffff, nonce: 42 }
    const made = makeHeader(fields, 5)
    const decoded = decodeHeader(made.raw, 5)
    assert.isTrue(Result.isSuccess(decoded) && toHex(decoded.success.hash) === toHex(made.hash) && decoded.success.nonce === 42)
    const hex = blockHashToHex(made.hash)
    const back = blockHashFromHex(hex)
    assert.isTrue(Result.isSuccess(back) && toHex(back.success) === toHex(made.hash))
    assert.isTrue(Result.isFailure(blockHashFromHex("zz")))
  })

  it("merkle root duplicates the last hash of an odd level", () => {
    const [a, b, c] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), new Uint8Array(32).fill(3)]
    const ab = hash256(concatBytes(a, b))
    const cc = hash256(concatBytes(c, c))
    assert.strictEqual(toHex(merkleRoot([a, b, c])), toHex(hash256(concatBytes(ab, cc))))
    assert.strictEqual(toHex(merkleRoot([a])), toHex(a))
  })
})
