/**
 * Typed failures of the BOLT 8 handshake and transport. Every check the spec names (act length,
 * version byte, public key, MAC) has its own value, so a Peer can log precisely why it hung up;
 * the spec's rule is the same for all of them: terminate the connection, send nothing.
 */
import { Data } from "effect"

/** Which of the three handshake acts a failure belongs to (BOLT 8 "Handshake Exchange"). */
export type Act = 1 | 2 | 3

/** The act was not exactly 50 (acts 1, 2) or 66 (act 3) bytes (spec vectors: ACTn_READ_FAILED). */
export class NoiseActLengthInvalid extends Data.TaggedError("NoiseActLengthInvalid")<{
  readonly act: Act
  readonly expected: number
  readonly received: number
}> {}

/** The leading version byte was not 0 (ACTn_BAD_VERSION): "MUST reject ... unknown version". */
export class NoiseActVersionUnknown extends Data.TaggedError("NoiseActVersionUnknown")<{
  readonly act: Act
  readonly version: number
}> {}

/** The ephemeral key (acts 1, 2) or the decrypted static key (act 3) is not a valid point (ACTn_BAD_PUBKEY). */
export class NoiseActPublicKeyInvalid extends Data.TaggedError("NoiseActPublicKeyInvalid")<{
  readonly act: Act
}> {}

/**
 * A MAC did not authenticate: `part: "tag"` is the act's final tag (ACTn_BAD_TAG), `part:
 * "static key"` the encrypted static key of act 3 (ACT3_BAD_CIPHERTEXT). For act 1 it means the
 * initiator does not know our static key.
 */
export class NoiseActMacInvalid extends Data.TaggedError("NoiseActMacInvalid")<{
  readonly act: Act
  readonly part: "tag" | "static key"
}> {}

/** A key given by the local caller is unusable (not a valid secret or point). A local bug, not a peer fault. */
export class NoiseLocalKeyInvalid extends Data.TaggedError("NoiseLocalKeyInvalid")<{
  readonly key: "ephemeral secret" | "local static" | "remote static"
}> {}

/** The ECDH result handed back by the caller (the signer) is not 32 bytes. */
export class NoiseSharedSecretInvalid extends Data.TaggedError("NoiseSharedSecretInvalid")<{
  readonly length: number
}> {}

export type HandshakeError =
  | NoiseActLengthInvalid
  | NoiseActVersionUnknown
  | NoiseActPublicKeyInvalid
  | NoiseActMacInvalid
  | NoiseLocalKeyInvalid
  | NoiseSharedSecretInvalid

/** A Lightning message longer than 65535 bytes cannot be sent (BOLT 8 "Lightning Message Specification"). */
export class NoiseMessageTooLong extends Data.TaggedError("NoiseMessageTooLong")<{
  readonly length: number
}> {}

/** A frame part had the wrong size: the header must be 18 bytes, the body exactly the announced length + 16. */
export class NoiseFrameLengthInvalid extends Data.TaggedError("NoiseFrameLengthInvalid")<{
  readonly part: "header" | "body"
  readonly expected: number
  readonly received: number
}> {}

/** The encrypted length prefix or the encrypted body did not authenticate: the stream is corrupt or forged. */
export class NoiseFrameMacInvalid extends Data.TaggedError("NoiseFrameMacInvalid")<{
  readonly part: "header" | "body"
}> {}

export type DecryptError = NoiseFrameLengthInvalid | NoiseFrameMacInvalid
