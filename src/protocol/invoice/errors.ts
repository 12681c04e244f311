/**
 * Typed failures of BOLT 11 decoding. Each names what is wrong, so a wallet can tell its user
 * and the control API can answer with a 4xx and the reason.
 */
import { Data } from "effect"

/** The string is not valid bech32 (BOLT 11 "Encoding Overview": checksum, separator, case, characters). */
export class InvalidBech32 extends Data.TaggedError("InvalidBech32")<{
  readonly reason: "checksum" | "no-separator" | "mixed-case" | "invalid-character" | "empty"
  readonly message: string
}> {}

/** The human-readable part: unknown prefix/currency, bad amount or multiplier, sub-msat precision. */
export class InvalidHrp extends Data.TaggedError("InvalidHrp")<{
  readonly reason: "prefix" | "currency" | "amount" | "multiplier" | "sub-millisatoshi"
  readonly message: string
}> {}

/** The data part is shorter than timestamp + signature, or a tagged field runs past its end. */
export class Truncated extends Data.TaggedError("Truncated")<{ readonly message: string }> {}

/** A required field is missing or two exclusive ones are present. */
export class MissingField extends Data.TaggedError("MissingField")<{
  readonly field: "p" | "s" | "d|h"
  readonly message: string
}> {}

/** A known field with a malformed value (non-minimal integer, bad UTF-8, bad route hint...). */
export class InvalidField extends Data.TaggedError("InvalidField")<{
  readonly field: string
  readonly message: string
}> {}

/** The `9` field sets an even (required) feature bit we do not know (BOLT 11 "Feature Bits"). */
export class UnknownRequiredFeature extends Data.TaggedError("UnknownRequiredFeature")<{
  readonly bits: ReadonlyArray<number>
  readonly message: string
}> {}

/** The signature does not recover, does not verify, or is high-S while `n` is given. */
export class InvalidSignature extends Data.TaggedError("InvalidSignature")<{
  readonly reason: "unrecoverable" | "mismatch" | "high-s" | "recovery-id"
  readonly message: string
}> {}

export type InvoiceError =
  | InvalidBech32
  | InvalidHrp
  | Truncated
  | MissingField
  | InvalidField
  | UnknownRequiredFeature
  | InvalidSignature
