/**
 * Wire codecs (BOLT 1): byte Reader/Writer, BigSize, TLV streams, field codecs and the
 * declarative message codec. Everything a BOLT 2/4/7 module needs to declare its messages.
 */
export * from "./errors.ts"
export { attempt, decodeWith, Reader } from "./reader.ts"
export { compactSizeLength, encodeWith, Writer } from "./writer.ts"
export { bigSizeLength, decodeBigSize, encodeBigSize, MAX_BIGSIZE } from "./bigsize.ts"
export * as Field from "./fields.ts"
export { ChainHash, ShortChannelId } from "./fields.ts"
export type { Codec, CodecType, StructFields, StructType, WireField } from "./fields.ts"
export {
  decodeRawTlvStream,
  encodeRawTlvStream,
  readExactValue,
  readRawRecords,
  type TlvField,
  tlvField,
  type TlvFields,
  type TlvRecord,
  TlvRecordSchema,
  type TlvStream,
  tlvStream,
  type TlvValues
} from "./tlv.ts"
export {
  type AnyMessageDef,
  defineMessage,
  type MessageDef,
  type MessageRegistry,
  type MessageType,
  type MessageValue,
  makeRegistry,
  type UnknownMessage
} from "./message.ts"
