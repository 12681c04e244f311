/**
 * The BOLT 8 `Noise_XK` handshake ("Authenticated Key Exchange Handshake Specification") as
 * pure steps: a state value and act bytes in, the next state value and act bytes out. Every
 * check the spec requires yields a typed error (see `errors.ts`) and never an exception.
 *
 * The node's static secret never enters these values: it is held by a signer service (which
 * may be remote or in hardware). Where the spec needs `ECDH(ls.priv, point)` the step stops in
 * a `...NeedsEcdh` state whose `point` the caller hands to its signer; the next step takes the
 * signer's 32-byte answer. The initiator needs this once (act 3, `se`), the responder once
 * (act 1, `es`). Ephemeral keys are ordinary arguments (the caller draws them from `Entropy`)
 * and live in the state until they are used.
 *
 * The elliptic-curve operations (`Secp256k1`) and the AEAD (`ChaChaPoly`) are parameters, so
 * the portable and the fast implementations run the same code and the same spec vectors.
 */
import { Result } from "effect"
import type { ChaChaPoly } from "../crypto/aead.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { NodeId } from "../units.ts"
import {
  NoiseActLengthInvalid,
  NoiseActMacInvalid,
  NoiseActPublicKeyInvalid,
  NoiseActVersionUnknown,
  NoiseLocalKeyInvalid,
  NoiseSharedSecretInvalid,
  type Act
} from "./errors.ts"
import { EMPTY, encodeNonce, hkdf2, INITIAL_CK, INITIAL_H, mixHash } from "./symmetric.ts"
import { makeCipherState, type CipherState } from "./transport.ts"

/** The crypto a handshake step needs, passed in so implementations can be swapped. */
export interface NoiseCrypto {
  readonly secp: Secp256k1
  readonly aead: ChaChaPoly
}

/** Acts one and two are 50 bytes: version, 33-byte ephemeral key, 16-byte tag. */
export const ACT_ONE_LENGTH = 50
export const ACT_TWO_LENGTH = 50
/** Act three is 66 bytes: version, encrypted static key (33 + 16), 16-byte tag. */
export const ACT_THREE_LENGTH = 66
/** The only handshake version defined. */
export const HANDSHAKE_VERSION = 0

/** The outcome of a handshake: who the peer is and the two transport directions. */
export interface Session {
  /** The peer's static key: proven for a responder (act 3), the one we dialled for an initiator. */
  readonly remoteStatic: NodeId
  readonly send: CipherState
  readonly receive: CipherState
}

/** Initiator after sending act 1, waiting for act 2. */
export interface InitiatorAwaitingActTwo {
  readonly _tag: "InitiatorAwaitingActTwo"
  readonly localStatic: NodeId
  readonly remoteStatic: NodeId
  readonly ephemeralSecret: Uint8Array
  readonly h: Uint8Array
  readonly ck: Uint8Array
}

/** Initiator after a valid act 2: give `ECDH(node secret, point)` to `initiatorActThree`. */
export interface InitiatorNeedsEcdh {
  readonly _tag: "InitiatorNeedsEcdh"
  /** The responder's ephemeral key `re`, for `se = ECDH(ls.priv, re)`. */
  readonly point: Uint8Array
  readonly localStatic: NodeId
  readonly remoteStatic: NodeId
  readonly h: Uint8Array
  readonly ck: Uint8Array
  readonly tempK2: Uint8Array
}

/** Responder before act 1 arrives. */
export interface ResponderAwaitingActOne {
  readonly _tag: "ResponderAwaitingActOne"
  readonly ephemeralSecret: Uint8Array
  readonly ephemeralPublic: Uint8Array
  readonly h: Uint8Array
  readonly ck: Uint8Array
}

/** Responder after a well-formed act 1: give `ECDH(node secret, point)` to `responderActTwo`. */
export interface ResponderNeedsEcdh {
  readonly _tag: "ResponderNeedsEcdh"
  /** The initiator's ephemeral key `re`, for `es = ECDH(ls.priv, re)`. */
  readonly point: Uint8Array
  readonly ephemeralSecret: Uint8Array
  readonly ephemeralPublic: Uint8Array
  readonly h: Uint8Array
  readonly ck: Uint8Array
  /** Act 1's tag, checked once the shared secret is known. */
  readonly tag: Uint8Array
}

/** Responder after sending act 2, waiting for act 3. */
export interface ResponderAwaitingActThree {
  readonly _tag: "ResponderAwaitingActThree"
  readonly ephemeralSecret: Uint8Array
  readonly h: Uint8Array
  readonly ck: Uint8Array
  readonly tempK2: Uint8Array
}

const NONCE_0 = encodeNonce(0)
const NONCE_1 = encodeNonce(1)

/** Checks length and version byte of a received act (receiver actions 1-3 of every act). */
const checkFrame = (
  act: Act,
  bytes: Uint8Array,
  expected: number
): NoiseActLengthInvalid | NoiseActVersionUnknown | undefined => {
  if (bytes.length !== expected) return new NoiseActLengthInvalid({ act, expected, received: bytes.length })
  const version = bytes[0] ?? 0
  if (version !== HANDSHAKE_VERSION) return new NoiseActVersionUnknown({ act, version })
  return undefined
}

/** `0 || key || tag`: the layout of acts one and two. */
const ephemeralAct = (ephemeralPublic: Uint8Array, tag: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ACT_ONE_LENGTH)
  out[0] = HANDSHAKE_VERSION
  out.set(ephemeralPublic, 1)
  out.set(tag, 34)
  return out
}

const checkSharedSecret = (secret: Uint8Array): NoiseSharedSecretInvalid | undefined =>
  secret.length === 32 ? undefined : new NoiseSharedSecretInvalid({ length: secret.length })

// ---------------------------------------------------------------------------------------------
// Initiator

/**
 * Starts a handshake towards `remoteStatic` and builds act 1 (`-> e, es`, "Act One" sender
 * actions). `localStatic` is our node id (public key only), `ephemeralSecret` 32 fresh random
 * bytes.
 */
export const initiatorActOne = (
  crypto: NoiseCrypto,
  params: { readonly localStatic: Uint8Array; readonly remoteStatic: Uint8Array; readonly ephemeralSecret: Uint8Array }
): Result.Result<{ readonly state: InitiatorAwaitingActTwo; readonly act: Uint8Array }, NoiseLocalKeyInvalid> => {
  const { secp, aead } = crypto
  const { localStatic, remoteStatic, ephemeralSecret } = params
  if (!secp.isValidPoint(localStatic)) return Result.fail(new NoiseLocalKeyInvalid({ key: "local static" }))
  if (!secp.isValidPoint(remoteStatic)) return Result.fail(new NoiseLocalKeyInvalid({ key: "remote static" }))
  const ephemeralPublic = secp.publicKey(ephemeralSecret)
  if (ephemeralPublic === undefined) return Result.fail(new NoiseLocalKeyInvalid({ key: "ephemeral secret" }))
  let h = mixHash(INITIAL_H, remoteStatic)
  h = mixHash(h, ephemeralPublic)
  const es = secp.ecdh(ephemeralSecret, remoteStatic)
  if (es === undefined) return Result.fail(new NoiseLocalKeyInvalid({ key: "remote static" }))
  const [ck, tempK1] = hkdf2(INITIAL_CK, es)
  const tag = aead.encrypt(tempK1, NONCE_0, h, EMPTY)
  h = mixHash(h, tag)
  return Result.succeed({
    state: {
      _tag: "InitiatorAwaitingActTwo",
      localStatic: NodeId(localStatic),
      remoteStatic: NodeId(remoteStatic),
      ephemeralSecret,
      h,
      ck
    },
    act: ephemeralAct(ephemeralPublic, tag)
  })
}

/**
 * Reads act 2 (`<- e, ee`, "Act Two" receiver actions). On success the caller must compute
 * `ECDH(node secret, state.point)` with its signer and pass it to `initiatorActThree`.
 */
export const initiatorActTwo = (
  crypto: NoiseCrypto,
  state: InitiatorAwaitingActTwo,
  act: Uint8Array
): Result.Result<
  InitiatorNeedsEcdh,
  NoiseActLengthInvalid | NoiseActVersionUnknown | NoiseActPublicKeyInvalid | NoiseActMacInvalid
> => {
  const { secp, aead } = crypto
  const bad = checkFrame(2, act, ACT_TWO_LENGTH)
  if (bad !== undefined) return Result.fail(bad)
  const re = Uint8Array.from(act.subarray(1, 34)) // a copy: `act` may be a Buffer, whose slice shares memory
  const tag = act.subarray(34, 50)
  if (!secp.isValidPoint(re)) return Result.fail(new NoiseActPublicKeyInvalid({ act: 2 }))
  let h = mixHash(state.h, re)
  const ee = secp.ecdh(state.ephemeralSecret, re)
  if (ee === undefined) return Result.fail(new NoiseActPublicKeyInvalid({ act: 2 }))
  const [ck, tempK2] = hkdf2(state.ck, ee)
  if (aead.decrypt(tempK2, NONCE_0, h, tag) === undefined) return Result.fail(new NoiseActMacInvalid({ act: 2, part: "tag" }))
  h = mixHash(h, tag)
  return Result.succeed({
    _tag: "InitiatorNeedsEcdh",
    point: re,
    localStatic: state.localStatic,
    remoteStatic: state.remoteStatic,
    h,
    ck,
    tempK2
  })
}

/**
 * Builds act 3 (`-> s, se`, "Act Three" sender actions) from `se = ECDH(node secret,
 * state.point)` and derives the session. Send `act`, then use `session`.
 */
export const initiatorActThree = (
  crypto: NoiseCrypto,
  state: InitiatorNeedsEcdh,
  sharedSecret: Uint8Array
): Result.Result<{ readonly act: Uint8Array; readonly session: Session }, NoiseSharedSecretInvalid> => {
  const { aead } = crypto
  const bad = checkSharedSecret(sharedSecret)
  if (bad !== undefined) return Result.fail(bad)
  const act = new Uint8Array(ACT_THREE_LENGTH)
  act[0] = HANDSHAKE_VERSION
  aead.encryptInto(state.tempK2, NONCE_1, state.h, state.localStatic, act, 1)
  const h = mixHash(state.h, act.subarray(1, 50))
  const [ck, tempK3] = hkdf2(state.ck, sharedSecret)
  aead.encryptInto(tempK3, NONCE_0, h, EMPTY, act, 50)
  const [sk, rk] = hkdf2(ck, EMPTY)
  return Result.succeed({
    act,
    session: { remoteStatic: state.remoteStatic, send: makeCipherState(sk, ck), receive: makeCipherState(rk, ck) }
  })
}

// ---------------------------------------------------------------------------------------------
// Responder

/**
 * Prepares to answer a handshake ("Handshake State Initialization", responder side).
 * `localStatic` is our node id (public key only), `ephemeralSecret` 32 fresh random bytes.
 */
export const responderStart = (
  crypto: NoiseCrypto,
  params: { readonly localStatic: Uint8Array; readonly ephemeralSecret: Uint8Array }
): Result.Result<ResponderAwaitingActOne, NoiseLocalKeyInvalid> => {
  const { secp } = crypto
  if (!secp.isValidPoint(params.localStatic)) return Result.fail(new NoiseLocalKeyInvalid({ key: "local static" }))
  const ephemeralPublic = secp.publicKey(params.ephemeralSecret)
  if (ephemeralPublic === undefined) return Result.fail(new NoiseLocalKeyInvalid({ key: "ephemeral secret" }))
  return Result.succeed({
    _tag: "ResponderAwaitingActOne",
    ephemeralSecret: params.ephemeralSecret,
    ephemeralPublic,
    h: mixHash(INITIAL_H, params.localStatic),
    ck: INITIAL_CK
  })
}

/**
 * Reads act 1 ("Act One" receiver actions 1-4). On success the caller must compute
 * `ECDH(node secret, state.point)` with its signer and pass it to `responderActTwo`, which
 * checks act 1's MAC and builds act 2.
 */
export const responderActOne = (
  crypto: NoiseCrypto,
  state: ResponderAwaitingActOne,
  act: Uint8Array
): Result.Result<ResponderNeedsEcdh, NoiseActLengthInvalid | NoiseActVersionUnknown | NoiseActPublicKeyInvalid> => {
  const bad = checkFrame(1, act, ACT_ONE_LENGTH)
  if (bad !== undefined) return Result.fail(bad)
  const re = Uint8Array.from(act.subarray(1, 34)) // a copy: `act` may be a Buffer, whose slice shares memory
  if (!crypto.secp.isValidPoint(re)) return Result.fail(new NoiseActPublicKeyInvalid({ act: 1 }))
  return Result.succeed({
    _tag: "ResponderNeedsEcdh",
    point: re,
    ephemeralSecret: state.ephemeralSecret,
    ephemeralPublic: state.ephemeralPublic,
    h: mixHash(state.h, re),
    ck: state.ck,
    tag: Uint8Array.from(act.subarray(34, 50))
  })
}

/**
 * Finishes act 1 with `es = ECDH(node secret, state.point)` (receiver actions 5-8: a MAC failure
 * means the initiator does not know our key) and builds act 2 (`<- e, ee`).
 */
export const responderActTwo = (
  crypto: NoiseCrypto,
  state: ResponderNeedsEcdh,
  sharedSecret: Uint8Array
): Result.Result<
  { readonly state: ResponderAwaitingActThree; readonly act: Uint8Array },
  NoiseSharedSecretInvalid | NoiseActMacInvalid | NoiseActPublicKeyInvalid
> => {
  const { secp, aead } = crypto
  const bad = checkSharedSecret(sharedSecret)
  if (bad !== undefined) return Result.fail(bad)
  const [ck1, tempK1] = hkdf2(state.ck, sharedSecret)
  if (aead.decrypt(tempK1, NONCE_0, state.h, state.tag) === undefined) {
    return Result.fail(new NoiseActMacInvalid({ act: 1, part: "tag" }))
  }
  let h = mixHash(state.h, state.tag)
  h = mixHash(h, state.ephemeralPublic)
  const ee = secp.ecdh(state.ephemeralSecret, state.point)
  if (ee === undefined) return Result.fail(new NoiseActPublicKeyInvalid({ act: 1 }))
  const [ck, tempK2] = hkdf2(ck1, ee)
  const tag = aead.encrypt(tempK2, NONCE_0, h, EMPTY)
  h = mixHash(h, tag)
  return Result.succeed({
    state: { _tag: "ResponderAwaitingActThree", ephemeralSecret: state.ephemeralSecret, h, ck, tempK2 },
    act: ephemeralAct(state.ephemeralPublic, tag)
  })
}

/**
 * Reads act 3 (`-> s, se`, "Act Three" receiver actions): recovers and authenticates the
 * initiator's static key and derives the session.
 */
export const responderActThree = (
  crypto: NoiseCrypto,
  state: ResponderAwaitingActThree,
  act: Uint8Array
): Result.Result<
  Session,
  NoiseActLengthInvalid | NoiseActVersionUnknown | NoiseActPublicKeyInvalid | NoiseActMacInvalid
> => {
  const { secp, aead } = crypto
  const bad = checkFrame(3, act, ACT_THREE_LENGTH)
  if (bad !== undefined) return Result.fail(bad)
  const c = act.subarray(1, 50)
  const t = act.subarray(50, 66)
  const rs = aead.decrypt(state.tempK2, NONCE_1, state.h, c)
  if (rs === undefined) return Result.fail(new NoiseActMacInvalid({ act: 3, part: "static key" }))
  if (!secp.isValidPoint(rs)) return Result.fail(new NoiseActPublicKeyInvalid({ act: 3 }))
  const h = mixHash(state.h, c)
  const se = secp.ecdh(state.ephemeralSecret, rs)
  if (se === undefined) return Result.fail(new NoiseActPublicKeyInvalid({ act: 3 }))
  const [ck1, tempK3] = hkdf2(state.ck, se)
  if (aead.decrypt(tempK3, NONCE_0, h, t) === undefined) return Result.fail(new NoiseActMacInvalid({ act: 3, part: "tag" }))
  const [rk, sk] = hkdf2(ck1, EMPTY)
  return Result.succeed({
    remoteStatic: NodeId(Uint8Array.from(rs)),
    send: makeCipherState(sk, ck1),
    receive: makeCipherState(rk, ck1)
  })
}
