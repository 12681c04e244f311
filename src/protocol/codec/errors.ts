/**
 * Typed decoding failures for every wire codec (BOLT 1). Each reason a peer's bytes can be
 * rejected has its own tagged class, so callers (the Peer actor, tests, fuzzers) can match on
 * `_tag` and decide e.g. "close the connection" without parsing strings.
 */
import { Data } from "effect"

/** Fewer bytes than the field needs ("unexpected EOF" / "insufficient length", BOLT 1). */
export class UnexpectedEof extends Data.TaggedError("UnexpectedEof")<{
  readonly at: number
  readonly needed: number
  readonly available: number
}> {}

/** A BigSize that is not in its shortest form (BOLT 1 Appendix A: "not canonical"). */
export class NonCanonicalBigSize extends Data.TaggedError("NonCanonicalBigSize")<{
  readonly at: number
  readonly value: bigint
}> {}

/** A truncated integer (tu16/tu32/tu64) with a leading zero byte or wider than its type. */
export class NonMinimalTruncatedInt extends Data.TaggedError("NonMinimalTruncatedInt")<{
  readonly at: number
  readonly width: number
  readonly maxWidth: number
}> {}

/** A 33-byte `point` whose first byte is neither 0x02 nor 0x03 (SEC 1 compressed form). */
export class InvalidPoint extends Data.TaggedError("InvalidPoint")<{
  readonly at: number
  readonly prefix: number
}> {}

/** A field value outside what its type allows (e.g. an unknown address descriptor type). */
export class InvalidFieldValue extends Data.TaggedError("InvalidFieldValue")<{
  readonly at: number
  readonly field: string
  readonly reason: string
}> {}

/** TLV record types must rise strictly (BOLT 1, TLV requirements). */
export class TlvTypeNotIncreasing extends Data.TaggedError("TlvTypeNotIncreasing")<{
  readonly at: number
  readonly type: bigint
  readonly previous: bigint
}> {}

/** The same TLV type twice in one stream (a special case of non-increasing types). */
export class TlvDuplicateType extends Data.TaggedError("TlvDuplicateType")<{
  readonly at: number
  readonly type: bigint
}> {}

/** An even TLV type that this stream does not know: the whole stream must be rejected. */
export class TlvUnknownEvenType extends Data.TaggedError("TlvUnknownEvenType")<{
  readonly at: number
  readonly type: bigint
}> {}

/** A TLV `length` larger than the bytes left in the stream. */
export class TlvLengthExceedsStream extends Data.TaggedError("TlvLengthExceedsStream")<{
  readonly at: number
  readonly type: bigint
  readonly length: bigint
  readonly remaining: number
}> {}

/** A known TLV record whose value is shorter than its encoding needs. */
export class TlvValueTooShort extends Data.TaggedError("TlvValueTooShort")<{
  readonly at: number
  readonly type: bigint
  readonly length: number
}> {}

/** A known TLV record whose value has bytes left over after its fields. */
export class TlvValueTooLong extends Data.TaggedError("TlvValueTooLong")<{
  readonly at: number
  readonly type: bigint
  readonly length: number
  readonly unread: number
}> {}

/** A message of unknown even type: BOLT 1 says close the connection. */
export class UnknownEvenMessage extends Data.TaggedError("UnknownEvenMessage")<{
  readonly type: number
}> {}

export type DecodeError =
  | UnexpectedEof
  | NonCanonicalBigSize
  | NonMinimalTruncatedInt
  | InvalidPoint
  | InvalidFieldValue
  | TlvTypeNotIncreasing
  | TlvDuplicateType
  | TlvUnknownEvenType
  | TlvLengthExceedsStream
  | TlvValueTooShort
  | TlvValueTooLong
  | UnknownEvenMessage

/**
 * Internal sentinel: codec internals throw this to unwind quickly; `decodeWith` (the public
 * boundary) catches it and returns the carried error. Never escapes a public function.
 */
export class DecodeFailure {
  readonly error: DecodeError
  constructor(error: DecodeError) {
    this.error = error
  }
}

export const fail = (error: DecodeError): never => {
  throw new DecodeFailure(error)
}

/** A value that cannot be encoded (e.g. a byte string longer than its u16 length prefix). */
export class EncodeError extends Data.TaggedError("EncodeError")<{
  readonly field: string
  readonly reason: string
}> {}
