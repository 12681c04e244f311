/**
 * Bitcoin transaction decoder (BIP 144 serialization, as BOLT 3 transactions use it): arbitrary
 * bytes give a typed `TxDecodeError`, never an exception, and an accepted transaction
 * re-serializes to exactly the bytes it came from (the decoder accepts canonical encodings
 * only). Its witness-stripped form must decode again, without witnesses, to the same txid.
 */
import { Result } from "effect"
import { equalBytes, fromHex } from "../../src/protocol/bytes.ts"
import { hash256 } from "../../src/protocol/tx/bitcoin/hash.ts"
import { decodeTransaction, hasWitness, serializeTransaction, txid } from "../../src/protocol/tx/bitcoin/transaction.ts"

export const seeds = [
  // BOLT 3 Appendix B funding transaction (legacy, P2PKH input).
  "0200000001adbb20ea41a8423ea937e76e8151636bf6093b70eaff942930d20576600521fd000000006b48304502210090587b6201e166ad6af0227d3036a9454223d49a1f11839c1a362184340ef0240220577f7cd5cca78719405cbf1de7414ac027f0239ef6e214c90fcaab0454d84b3b012103535b32d5eb0a6ed0982a0479bbadc9868d9836f6ba94dd5a63be16d875069184ffffffff028096980000000000220020c015c4a6be010e21657068fc2e6a9d02b27ebe4d490a25846f7237f104d1a3cd20256d29010000001600143ca33c2e4446f4a305f23c80df8ad1afdcf652f900000000",
  // BOLT 3 Appendix C HTLC-success transaction (segwit, 5-item witness).
  "02000000000101ab84ff284f162cfbfef241f853b47d4368d171f9e2a1445160cd591c4c7d882b00000000000000000001e8030000000000002200204adb4e2f00643db396dd120d4e7dc17625f5f2c11a40d857accc862d6b7dd80e0500483045022100d9e29616b8f3959f1d3d7f7ce893ffedcdc407717d0de8e37d808c91d3a7c50d022078c3033f6d00095c8720a4bc943c1b45727818c082e4e3ddbc6d3116435b624b014730440220636de5682ef0c5b61f124ec74e8aa2461a69777521d6998295dcea36bc3338110220165285594b23c50b28b82df200234566628a27bcd17f7f14404bd865354eb3ce012000000000000000000000000000000000000000000000000000000000000000008a76a91414011f7254d96b819c76986c277d115efce6f7b58763ac67210394854aa6eab5b2a8122cc726e9dded053a2184d88256816826d6231c068d4a5b7c8201208763a914b8bcb07f6344b42ab04250c86a6e8b75d3fdbbc688527c21030d417a46946384f88d5f3337267c5e579765875dc4daca813e21734b140639e752ae677502f401b175ac686800000000",
  // No inputs, no outputs (legacy form: the 0x00 input count is followed by a 0x00 output count).
  "020000000000ffffffff",
  // Two inputs, the first with an empty witness, a 0xfd CompactSize script length (253 bytes).
  "0200000000010200000000000000000000000000000000000000000000000000000000000000000000000000ffffffff" +
    "11".repeat(32) + "0100000000fdffffff01" + "0000000000000000" + "fdfd00" + "6a".repeat(253) +
    "00" + "0201" + "aa" + "00" + "00000000"
].map(fromHex)

export function fuzz(data: Uint8Array): void {
  const r = decodeTransaction(data)
  if (Result.isFailure(r)) {
    if (r.failure._tag !== "TxDecodeError" || r.failure.offset < 0 || r.failure.offset > data.length) throw new Error("untyped or misplaced failure")
    return
  }
  const tx = r.success
  if (!equalBytes(serializeTransaction(tx), data)) throw new Error("re-serialization differs")
  const stripped = serializeTransaction(tx, { witness: false })
  if (!equalBytes(txid(tx), hash256(stripped))) throw new Error("txid is not the hash of the stripped serialization")
  // A transaction without inputs cannot be written without witness and read back unambiguously
  // when it has outputs (0x00 0x01.. reads as the BIP 144 marker and flag), as in Bitcoin Core.
  if (tx.inputs.length === 0 && tx.outputs.length > 0) return
  const again = decodeTransaction(stripped)
  if (Result.isFailure(again)) throw new Error(`stripped form does not decode: ${again.failure.reason}`)
  if (hasWitness(again.success) || !equalBytes(serializeTransaction(again.success), stripped)) throw new Error("stripped form does not round-trip")
}
