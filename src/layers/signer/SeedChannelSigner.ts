/**
 * In-process `ChannelSigner`: every channel's keys are derived from one node seed and the
 * channel's key id, so the signer needs no key store (the seed and the key ids, which the
 * channel persists, recover everything):
 *
 *     secret(purpose) = deriveSecret(seed, "channel/<hex key id>/<purpose>")
 *
 * with `deriveSecret` the node's labelled HKDF-SHA256 (`src/protocol/keys/seed.ts`) and the
 * purposes `funding`, `revocation`, `payment`, `delayed_payment`, `htlc` and `commitment_seed`
 * (the BOLT 3 per-commitment seed, fed to `generate_from_seed`). A conformance suite may fix
 * them for every channel instead (`fixedSecrets`, the daemon's `--dev-channel-secrets`).
 *
 * Secrets live only in this closure, the keys wrapped in `Redacted` (printing or JSON-encoding
 * them gives `<redacted>`); the memo of recent per-commitment secrets and the shachain cursor are
 * plain bytes of the private channel records (never handed out or exported: read on every
 * signing and validation, where each unwrap would be a lookup), as are the four base secrets the
 * commitment path uses on every commitment (`HotSecrets`), and so is our HTLC key on the
 * counterparty's commitment, derived, used to sign and dropped within one operation. What the signer remembers per channel (parameters, the counterparty's
 * signatures on our commitments, how far we revoked) is public data, kept in memory and exported
 * with `channelState` as a `SignerChannelState`: the channel layer persists it with the channel
 * and hands it back with `restoreChannel` at start (a restarted signer that forgot how far it
 * revoked could sign a revoked commitment). A restored state is checked in full (each held
 * commitment rebuilt, the counterparty's signatures verified) and refused if it is behind what
 * the signer holds.
 *
 * Speed: a commitment's keys come from a bounded cache shared with the channel's builders
 * (`commitment-keys-cache.ts`), and each channel remembers its last few per-commitment secrets
 * and points, so the EC work of building, signing and validating one commitment is done once.
 * The commitment path's four operations (the per-commitment point, validating our commitment,
 * releasing a secret, signing theirs) are also declared as answers at once
 * (`declareChannelSignerNow`): plain functions returning a `Result`, which the channel calls
 * with no effect per request; the shape's methods are the same functions run as effects.
 * Inside any operation a refusal is a private sentinel thrown to that operation's one boundary
 * (`attempt`), which turns it into the typed failure: it never leaves the module.
 */
import { Effect, Layer, Redacted, Result } from "effect"
import { equalBytes, toHex } from "../../protocol/bytes.ts"
import { bytesKey } from "../../protocol/lru.ts"
import type { Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { deriveCounterpartyCommitmentKeys, deriveHolderCommitmentKeys, type ChannelBasepoints, type CommitmentKeys } from "../../protocol/keys/commitment-keys.ts"
import { sharedCommitmentKeysCache, type CommitmentKeysCache } from "../../protocol/keys/commitment-keys-cache.ts"
import {
  derivePrivateKeyAtBasepoint,
  derivePrivateKeyTweakAt,
  deriveRevocationPrivateKey,
  perCommitmentPoint as pointOfSecret,
  type KeyDerivationError
} from "../../protocol/keys/derivation.ts"
import { unsafePublicKey, type PrivateKey, type PublicKey } from "../../protocol/keys/keys.ts"
import { sharedPerCommitmentPoints } from "../../protocol/keys/per-commitment-points.ts"
import { indexOfCommitment, prefixServes, secretAtCursor, secretCursor, secretPrefix, type SecretCursor } from "../../protocol/keys/shachain.ts"
import { p2wpkhScriptCode } from "../../protocol/tx/bitcoin/script.ts"
import { hash256 } from "../../protocol/tx/bitcoin/hash.ts"
import { SIGHASH_ALL } from "../../protocol/tx/bitcoin/sighash.ts"
import { setWitness, txidFromBytes, type Transaction } from "../../protocol/tx/bitcoin/transaction.ts"
import {
  commitmentNumberObscuringFactor,
  type CommitmentHtlc,
  type CommitmentTransaction
} from "../../protocol/tx/commitment.ts"
import type { HtlcTransaction } from "../../protocol/tx/htlc.ts"
import { commitmentTxid, htlcTransactions, sharedCommitmentBuilds, type CommitmentBuilds } from "../../protocol/tx/commitment-builds.ts"
import { anchorScript, fundingScript, offeredHtlcScript, receivedHtlcScript, toLocalScript, toRemoteAnchorsScript } from "../../protocol/tx/scripts.ts"
import {
  commitmentSighash,
  finalizeCommitment,
  finalizeHtlcTransaction,
  htlcSighash,
  NO_DIGEST,
  signCommitment,
  signHtlcAsLocal,
  signInput,
  skipsDigest,
  verifyCommitmentSignature,
  verifyRemoteHtlcSignature
} from "../../protocol/tx/signing.ts"
import { channelTypeByName } from "../../protocol/channel/params.ts"
import {
  ChannelSigner,
  InvalidCounterpartySignature,
  InvalidSigningRequest,
  MAX_COMMITMENT_NUMBER,
  SignerPolicyViolation,
  StaleSignerState,
  type ChannelKeyId,
  type ChannelParameters,
  type ChannelSignerError,
  type ChannelSignerNow,
  declareChannelSignerNow,
  type ChannelSignerShape,
  type CommitmentState,
  CompactSignature,
  type SignerChannelState,
  type SpendRequest,
  type SpendSignature
} from "../../services/ChannelSigner.ts"
import { Secp256k1Best } from "../crypto/secp256k1-best.ts"
import { secretDeriver } from "../../protocol/keys/seed.ts"

/** The private half of a channel: never leaves this module. */
interface ChannelSecrets {
  readonly funding: PrivateKey
  readonly revocationBase: PrivateKey
  readonly paymentBase: PrivateKey
  readonly delayedPaymentBase: PrivateKey
  readonly htlcBase: PrivateKey
  readonly commitmentSeed: Redacted.Redacted<Uint8Array>
}

/**
 * The base secrets of `ChannelSecrets` the commitment path reads on every commitment (signing
 * theirs, our HTLC key on theirs, the keys of ours and of theirs), as the plain bytes their
 * `Redacted` wrappers hold (the same arrays): each `Redacted.value` is two lookups in Effect's
 * process-wide `WeakMap`, about ten per HTLC round trip, cold in a process with many channels.
 * Private like the per-commitment secrets: never handed out, exported or logged.
 */
interface HotSecrets {
  readonly funding: Uint8Array
  readonly revocationBase: Uint8Array
  readonly delayedPaymentBase: Uint8Array
  readonly htlcBase: Uint8Array
}

/** Our commitment as validated: the counterparty's signatures we may need to broadcast it. */
interface HolderCommitment {
  /** The state it was built from (a copy, HTLCs reduced to their four fields): what is persisted. */
  readonly state: CommitmentState
  /**
   * The txid of the commitment validated. The transaction itself is not kept (a channel holds
   * one or two of these for its whole life, and needs them only to broadcast): it is rebuilt
   * from `state` when signed for broadcast (`holderTransactions`), and checked against this txid.
   */
  readonly txid: Uint8Array
  readonly counterpartySignature: Uint8Array
  readonly counterpartyHtlcSignatures: ReadonlyArray<Uint8Array>
  /** Its exported form, made on the first export that includes it (`exportHolder`). */
  exported: SignerChannelState["holderCommitments"][number] | undefined
}

/** A record's last export, with the parts of the record it was made from (`exportState`). */
interface LastExport {
  readonly parameters: ChannelParameters | undefined
  readonly revokedBelow: bigint
  readonly highestValidated: bigint | undefined
  readonly last: ChannelRecord["lastCounterpartySigned"]
  readonly holdersVersion: number
  readonly state: SignerChannelState
}

interface ChannelRecord {
  readonly secrets: ChannelSecrets
  readonly hot: HotSecrets
  readonly basepoints: ChannelBasepoints
  parameters: ChannelParameters | undefined
  /** Validated holder commitments not yet revoked (at most the current and the next one). */
  readonly holderCommitments: Map<bigint, HolderCommitment>
  /**
   * Counts the changes of `holderCommitments` (each `set`, `delete` and `clear` is followed by an
   * increment): an export compares it instead of walking the map (`exportState`).
   */
  holdersVersion: number
  /** Every holder commitment below this number has been revoked (its secret released). */
  revokedBelow: bigint
  /** The highest holder commitment number validated so far. */
  highestValidated: bigint | undefined
  /** The last counterparty commitment we signed: its number and txid (internal byte order). */
  lastCounterpartySigned: { readonly commitmentNumber: bigint; readonly txid: Uint8Array } | undefined
  /**
   * Memo of our last `MEMO_SIZE` per-commitment numbers, each with its secret and point
   * (`HolderPerCommitment`), oldest replaced first (`holderPerCommitment`).
   */
  readonly recent: Array<HolderPerCommitment>
  /** Where in `recent` the next number goes once it is full (its oldest entry). */
  recentNext: number
  /**
   * The derivation state of the seed's high index bits (`secretPrefix`) and of the low bits of
   * the last secret derived (`SecretCursor`): the next secret costs about two hashes.
   */
  secretCursor: SecretCursor | undefined
  /** Memo of the commitment number obscuring factor, for the parameters object it was computed under. */
  obscuring: { readonly parameters: ChannelParameters; readonly factor: bigint } | undefined
  /** The last export of the record's policy state (`exportState`). */
  lastExport: LastExport | undefined
}

/** The policy part of a record: what `SignerChannelState` carries, in memory form. */
interface PolicyState {
  readonly parameters: ChannelParameters | undefined
  readonly holderCommitments: ReadonlyMap<bigint, HolderCommitment>
  readonly revokedBelow: bigint
  readonly highestValidated: bigint | undefined
  readonly lastCounterpartySigned: { readonly commitmentNumber: bigint; readonly txid: Uint8Array } | undefined
}

/**
 * One of our recent commitment numbers with its per-commitment secret (BOLT 3
 * `generate_from_seed`) and, once asked, its point. The channel asks for the point; the signer
 * then reads the secret to derive that commitment's keys, the point to validate the commitment,
 * and the secret again to release it two commitments later: one entry serves all four.
 */
interface HolderPerCommitment {
  readonly n: bigint
  /** The signer's own copy: read in place, never handed out (`releaseCommitmentSecret` gives a copy). */
  readonly secret: Uint8Array
  point: PublicKey | undefined
}

/**
 * Entries of the per-channel memo of commitment numbers: the current and next ones, and the one
 * released next. A few entries in an array scanned in order (no `Map` of bigint keys to hash,
 * no iterator made to find the oldest).
 */
const MEMO_SIZE = 4

type ReadyRecord = ChannelRecord & { readonly parameters: ChannelParameters }
const isReady = (r: ChannelRecord): r is ReadyRecord => r.parameters !== undefined

/** Private sentinels: thrown inside an operation, turned into the typed failure at its boundary. */
class Refusal {
  readonly error: ChannelSignerError
  constructor(error: ChannelSignerError) {
    this.error = error
  }
}
/** Only `restoreChannel` fails with this one. */
class StaleRefusal {
  readonly error: StaleSignerState
  constructor(error: StaleSignerState) {
    this.error = error
  }
}
/** Only `validateHolderCommitment` fails with this one. */
class BadCounterpartySignature {
  readonly error: InvalidCounterpartySignature
  constructor(error: InvalidCounterpartySignature) {
    this.error = error
  }
}
const invalid = (reason: string): never => {
  throw new Refusal(new InvalidSigningRequest({ reason }))
}
const policy = (reason: string): never => {
  throw new Refusal(new SignerPolicyViolation({ reason }))
}
const stale = (reason: string): never => {
  throw new StaleRefusal(new StaleSignerState({ reason }))
}
const badSignature = (reason: string, htlcIndex: number | undefined): never => {
  throw new BadCounterpartySignature(new InvalidCounterpartySignature({ reason, htlcIndex }))
}
const unwrap = <A, E>(result: Result.Result<A, E>, reason: string): A => (Result.isSuccess(result) ? result.success : invalid(reason))

/** Runs a synchronous operation, its value or the failure of a sentinel `refused` recognises (anything else is thrown on: a defect). */
const attempt = <A, E>(f: () => A, refused: (thrown: unknown) => E | undefined): Result.Result<A, E> => {
  try {
    return Result.succeed(f())
  } catch (e) {
    return failure(e, refused)
  }
}
/**
 * `attempt`'s failure for what an operation threw (`refused`, or thrown on): for the commitment
 * path's operations, which catch inline rather than hand `attempt` a closure on every call.
 */
const failure = <E>(thrown: unknown, refused: (thrown: unknown) => E | undefined): Result.Result<never, E> => {
  const error = refused(thrown)
  if (error === undefined) throw thrown
  return Result.fail(error)
}
const refusal = (e: unknown) => (e instanceof Refusal ? e.error : undefined)
/** `validateHolderCommitment`'s refusals. */
const validationRefusal = (e: unknown) => (e instanceof Refusal || e instanceof BadCounterpartySignature ? e.error : undefined)
/** Only malformed requests (a `policy` refusal there would be a bug, hence a defect). */
const invalidOnly = (e: unknown) => (e instanceof Refusal && e.error._tag === "InvalidSigningRequest" ? e.error : undefined)
/** A `Result` as an effect, made when the effect runs (a throw is a defect). */
const effectOf = <A, E>(f: () => Result.Result<A, E>): Effect.Effect<A, E> => Effect.suspend(() => Effect.fromResult(f()))
/** A function answering at once as the shape's method: its answer as an effect, computed when the effect runs. */
const lift =
  <Args extends ReadonlyArray<unknown>, A, E>(f: (...args: Args) => Result.Result<A, E>) =>
  (...args: Args): Effect.Effect<A, E> =>
    effectOf(() => f(...args))
const run = <A>(f: () => A): Effect.Effect<A, ChannelSignerError> => effectOf(() => attempt(f, refusal))
const runRestore = <A>(f: () => A): Effect.Effect<A, InvalidSigningRequest | StaleSignerState> =>
  effectOf(() => attempt(f, (e) => (e instanceof StaleRefusal ? e.error : invalidOnly(e))))

/** The basepoints of `ChannelBasepoints`, for comparing and validating them field by field. */
const BASEPOINT_FIELDS: ReadonlyArray<keyof ChannelBasepoints> = [
  "fundingPubkey",
  "revocationBasepoint",
  "paymentBasepoint",
  "delayedPaymentBasepoint",
  "htlcBasepoint"
]

/**
 * A copy of `bytes` as a plain array (the signer hands out and keeps only copies): the typed-array
 * constructor's copy, about half the cost of `Uint8Array.from` (which goes through the iteration
 * protocol), several per commitment validated.
 */
const copyOf = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes)

const SEQUENCE_DISABLE_FLAG = 0x80000000
const SEQUENCE_TYPE_FLAG = 0x00400000

/** Whether input `sequence` satisfies `n OP_CHECKSEQUENCEVERIFY` in blocks (BIP 112), tx version >= 2. */
const satisfiesCsv = (tx: Transaction, sequence: number, blocks: number): boolean =>
  tx.version >= 2 && (sequence & SEQUENCE_DISABLE_FLAG) === 0 && (sequence & SEQUENCE_TYPE_FLAG) === 0 && (sequence & 0xffff) >= blocks

export interface SeedChannelSignerOptions {
  /**
   * Where commitment keys are memoized (`src/protocol/keys/commitment-keys-cache.ts`). By default
   * the process-wide cache the channel's builders also use, so that the keys of a commitment the
   * channel built are not derived again to sign it.
   */
  readonly commitmentKeys?: CommitmentKeysCache
  /**
   * Where built commitments are memoized (`src/protocol/tx/commitment-builds.ts`). By default
   * the process-wide memo the channel's builders also use, so that a commitment the channel
   * built (to verify its signatures) is not built and hashed again to validate it.
   */
  readonly commitmentBuilds?: CommitmentBuilds
  /**
   * The same secrets for EVERY channel instead of the per-channel ones derived from the seed:
   * only for conformance suites that script messages against known keys (the daemon's
   * `--dev-channel-secrets`, refused unless `--dev` on regtest). Never in production: channels
   * then share keys.
   */
  readonly fixedSecrets?: FixedChannelSecrets
}

/**
 * Base secrets (BOLT 3 "Key Derivation") and the per-commitment seed (BOLT 3
 * `generate_from_seed`'s seed), each 32 bytes, for `SeedChannelSignerOptions.fixedSecrets`.
 */
export interface FixedChannelSecrets {
  readonly funding: Uint8Array
  readonly revocation: Uint8Array
  readonly payment: Uint8Array
  readonly delayedPayment: Uint8Array
  readonly htlc: Uint8Array
  readonly shachainSeed: Uint8Array
}

/**
 * A `ChannelSigner` over `seed` (32 bytes). `secp` does the EC work (noble, WASM or native).
 * Throws RangeError for a seed of another length (a configuration bug).
 */
export const makeSeedChannelSigner = (seed: Uint8Array, secp: Secp256k1, options: SeedChannelSignerOptions = {}): ChannelSignerShape => {
  if (seed.length !== 32) throw new RangeError("channel signer seed must be 32 bytes")
  const keysCache = options.commitmentKeys ?? sharedCommitmentKeysCache
  const deriveCommitmentKeys = keysCache.derive
  const builds = options.commitmentBuilds ?? sharedCommitmentBuilds
  const nodeSeed = Redacted.make(copyOf(seed), { label: "ChannelSignerSeed" })
  const fixed = options.fixedSecrets
  if (fixed !== undefined && [fixed.funding, fixed.revocation, fixed.payment, fixed.delayedPayment, fixed.htlc].some((k) => k.length !== 32 || !secp.isValidSecret(k))) {
    throw new RangeError("fixed channel secrets must be valid 32-byte secp256k1 secrets")
  }
  if (fixed !== undefined && fixed.shachainSeed.length !== 32) throw new RangeError("the fixed per-commitment seed must be 32 bytes")
  /** `fixedSecrets` by derivation purpose (copies: the caller may zero its own). */
  const fixedSecrets = fixed === undefined ? undefined : new Map<string, Uint8Array>([
    ["funding", fixed.funding.slice()],
    ["revocation", fixed.revocation.slice()],
    ["payment", fixed.payment.slice()],
    ["delayed_payment", fixed.delayedPayment.slice()],
    ["htlc", fixed.htlc.slice()],
    ["commitment_seed", fixed.shachainSeed.slice()]
  ])
  const channels = new Map<string, ChannelRecord>()
  /** The channels' secrets: HKDF's extract and the PRK's HMAC key schedule done once for the seed, at the first channel (`secretDeriver`). */
  let deriver: ((label: string) => Uint8Array) | undefined
  const deriveChannelSecret = (label: string): Uint8Array => (deriver ??= secretDeriver(Redacted.value(nodeSeed), secp))(label)

  const pub = (key: PrivateKey): PublicKey => {
    const p = secp.publicKey(Redacted.value(key))
    if (p === undefined) throw new Error("unreachable: derived secrets are valid scalars")
    return unsafePublicKey(p)
  }

  /**
   * The record last found for each key id array, with a copy of the id it was found under
   * (compared on a hit): the channel asks with the same array on every request, so the record is
   * found without making the id's memo key. Weak: an entry lives as long as the caller's array.
   */
  const recordsByArray = new WeakMap<Uint8Array, { readonly id: Uint8Array; readonly record: ChannelRecord }>()
  const record = (keyId: ChannelKeyId): ChannelRecord => {
    const seen = recordsByArray.get(keyId)
    if (seen !== undefined && equalBytes(seen.id, keyId)) return seen.record
    const found = recordOf(keyId)
    recordsByArray.set(keyId, { id: copyOf(keyId), record: found })
    return found
  }
  const recordOf = (keyId: ChannelKeyId): ChannelRecord => {
    if (keyId.length !== 32) invalid("channel key id must be 32 bytes")
    const key = bytesKey(keyId)
    const existing = channels.get(key)
    if (existing !== undefined) return existing
    const id = toHex(keyId)
    const secret = (purpose: string): PrivateKey =>
      Redacted.make(fixedSecrets?.get(purpose)?.slice() ?? deriveChannelSecret(`channel/${id}/${purpose}`), { label: "PrivateKey" })
    const secrets: ChannelSecrets = {
      funding: secret("funding"),
      revocationBase: secret("revocation"),
      paymentBase: secret("payment"),
      delayedPaymentBase: secret("delayed_payment"),
      htlcBase: secret("htlc"),
      commitmentSeed: secret("commitment_seed")
    }
    const basepoints: ChannelBasepoints = {
      fundingPubkey: pub(secrets.funding),
      revocationBasepoint: pub(secrets.revocationBase),
      paymentBasepoint: pub(secrets.paymentBase),
      delayedPaymentBasepoint: pub(secrets.delayedPaymentBase),
      htlcBasepoint: pub(secrets.htlcBase)
    }
    const fresh: ChannelRecord = {
      secrets,
      hot: {
        funding: Redacted.value(secrets.funding),
        revocationBase: Redacted.value(secrets.revocationBase),
        delayedPaymentBase: Redacted.value(secrets.delayedPaymentBase),
        htlcBase: Redacted.value(secrets.htlcBase)
      },
      basepoints,
      parameters: undefined,
      holderCommitments: new Map(),
      holdersVersion: 0,
      revokedBelow: 0n,
      highestValidated: undefined,
      lastCounterpartySigned: undefined,
      recent: [],
      recentNext: 0,
      secretCursor: undefined,
      obscuring: undefined,
      lastExport: undefined
    }
    channels.set(key, fresh)
    return fresh
  }

  /** The record of a channel whose parameters are registered (a narrowed view of the same object). */
  const ready = (keyId: ChannelKeyId): ReadyRecord => {
    const r = record(keyId)
    return isReady(r) ? r : invalid("channel parameters not registered (readyChannel)")
  }

  const checkCommitmentNumber = (n: bigint): void => {
    if (n < 0n || n > MAX_COMMITMENT_NUMBER) invalid("commitment number out of range")
  }

  /** Our commitment number `n` with its secret (derived on the first request), from the record's memo. */
  const holderPerCommitment = (r: ChannelRecord, n: bigint): HolderPerCommitment => {
    const recent = r.recent
    for (let i = 0; i < recent.length; i++) {
      const e = recent[i]
      if (e !== undefined && e.n === n) return e
    }
    checkCommitmentNumber(n)
    const index = indexOfCommitment(n)
    let cursor = r.secretCursor
    if (cursor === undefined || !prefixServes(cursor.prefix, index)) {
      cursor = secretCursor(secretPrefix(Redacted.value(r.secrets.commitmentSeed), index))
      r.secretCursor = cursor
    }
    const e: HolderPerCommitment = { n, secret: secretAtCursor(cursor, index), point: undefined }
    if (recent.length < MEMO_SIZE) recent.push(e)
    else recent[r.recentNext] = e
    r.recentNext = (r.recentNext + 1) % MEMO_SIZE
    return e
  }

  /**
   * The point of `e`, through the shared memo of points (the channel checks the secret against
   * it when revoking, and the peer when it receives the secret).
   */
  const pointOf = (e: HolderPerCommitment): PublicKey =>
    (e.point ??= unwrap(sharedPerCommitmentPoints.pointOf(secp, e.secret), "invalid per-commitment secret"))

  /** Our per-commitment point `n`. */
  const holderPoint = (r: ChannelRecord, n: bigint): PublicKey => pointOf(holderPerCommitment(r, n))

  /**
   * Our HTLC secret key at the counterparty's point (the private half of BOLT 3 remote_htlcpubkey
   * on their commitment: htlc_basepoint_secret + SHA256(per_commitment_point || htlc_basepoint),
   * `derivePrivateKeyAtBasepoint`), from our HTLC basepoint as computed once per channel: one
   * scalar addition, no point multiplication. Plain bytes used at once to sign and dropped: no
   * `Redacted` wrapper (each one a registration in a process-wide `WeakMap`) and no memo (each
   * counterparty point is signed at once, so a memo would only miss).
   */
  const counterpartyHtlcSecret = (r: ChannelRecord, point: PublicKey): Uint8Array => {
    // The tweak is the one remote_htlcpubkey of their key set was derived with, just before (the build reads it): not hashed again.
    const sum = derivePrivateKeyTweakAt(secp, r.hot.htlcBase, r.basepoints.htlcBasepoint, point)
    return sum === undefined ? invalid("key derivation failed") : sum
  }

  const obscuringFactor = (r: ChannelRecord, p: ChannelParameters): bigint => {
    if (r.obscuring !== undefined && r.obscuring.parameters === p) return r.obscuring.factor
    const factor = p.holderIsFunder
      ? commitmentNumberObscuringFactor(r.basepoints.paymentBasepoint, p.counterpartyBasepoints.paymentBasepoint)
      : commitmentNumberObscuringFactor(p.counterpartyBasepoints.paymentBasepoint, r.basepoints.paymentBasepoint)
    r.obscuring = { parameters: p, factor }
    return factor
  }

  /**
   * Rebuilds the commitment of `owner` ("holder" = ours) from the state and the owner's point,
   * under parameters `p` (the registered ones, or those of a state being restored).
   */
  const buildCommitment = (
    r: ChannelRecord,
    p: ChannelParameters,
    owner: "holder" | "counterparty",
    state: CommitmentState,
    point: PublicKey
  ): { readonly commitment: CommitmentTransaction<CommitmentHtlc>; readonly keys: CommitmentKeys } => {
    checkCommitmentNumber(state.commitmentNumber)
    const ours = r.basepoints
    const theirs = p.counterpartyBasepoints
    const holder = owner === "holder"
    // Their commitment's keys with our revocation basepoint secret (the same keys, cheaper:
    // `deriveCounterpartyCommitmentKeys`) when the memo does not hold them (`held`, then `keep`:
    // no closure per commitment signed).
    const keys = unwrap(
      holder
        ? deriveCommitmentKeys(secp, ours, theirs, point)
        : counterpartyKeys(r, theirs, ours, point),
      "invalid per-commitment point or basepoint"
    )
    const commitment = unwrap(
      builds.build({
        channelType: p.channelType,
        fundingOutpoint: p.fundingOutpoint,
        fundingAmount: p.fundingAmount,
        localFundingPubkey: holder ? ours.fundingPubkey : theirs.fundingPubkey,
        remoteFundingPubkey: holder ? theirs.fundingPubkey : ours.fundingPubkey,
        commitmentNumber: state.commitmentNumber,
        obscuringFactor: obscuringFactor(r, p),
        localIsFunder: holder ? p.holderIsFunder : !p.holderIsFunder,
        toLocal: state.toLocal,
        toRemote: state.toRemote,
        htlcs: state.htlcs,
        feeratePerKw: state.feeratePerKw,
        dustLimit: holder ? p.holderDustLimit : p.counterpartyDustLimit,
        toSelfDelay: holder ? p.holderSelfDelay : p.counterpartySelfDelay,
        keys
      }),
      "commitment state does not build a valid commitment transaction"
    )
    return { commitment, keys }
  }

  /** The keys of their commitment at their `point`, from the memo or derived with our revocation basepoint secret. */
  const counterpartyKeys = (
    r: ChannelRecord,
    theirs: ChannelBasepoints,
    ours: ChannelBasepoints,
    point: PublicKey
  ): Result.Result<CommitmentKeys, KeyDerivationError> => {
    const held = keysCache.held(theirs, ours, point)
    return held !== undefined
      ? Result.succeed(held)
      : keysCache.keep(theirs, ours, point, deriveCounterpartyCommitmentKeys(secp, theirs, ours, point, { revocationBasepointSecret: r.hot.revocationBase }))
  }

  /**
   * Puts the keys of our commitment `n` in the keys memo, derived with our secrets
   * (`deriveHolderCommitmentKeys`: the same keys, cheaper), when its point is given out: the
   * channel builds that commitment next, when the peer's `commitment_signed` for it arrives,
   * and then finds its keys. Only speed is at stake: a failure is left to that build.
   */
  const warmHolderKeys = (r: ReadyRecord, e: HolderPerCommitment, point: PublicKey): void => {
    const ours = r.basepoints
    const theirs = r.parameters.counterpartyBasepoints
    if (keysCache.held(ours, theirs, point) !== undefined) return
    keysCache.keep(ours, theirs, point, deriveHolderCommitmentKeys(secp, ours, theirs, point, { perCommitmentSecret: e.secret, delayedPaymentBasepointSecret: r.hot.delayedPaymentBase }))
  }

  /** BOLT 3 privkey = basepoint_secret + SHA256(per_commitment_point || basepoint), `basepoint` being ours (already computed). */
  const derive = (base: PrivateKey, basepoint: PublicKey, point: PublicKey): PrivateKey =>
    unwrap(derivePrivateKeyAtBasepoint(secp, base, basepoint, point), "key derivation failed")

  const storedHolderCommitment = (r: ChannelRecord, n: bigint): HolderCommitment => {
    checkCommitmentNumber(n)
    if (n < r.revokedBelow) policy(`commitment ${n} is revoked: broadcasting it would forfeit the channel`)
    const held = r.holderCommitments.get(n)
    if (held === undefined) return invalid(`commitment ${n} was not validated`)
    return held
  }

  const sameParameters = (a: ChannelParameters, b: ChannelParameters): boolean =>
    a.channelType.name === b.channelType.name &&
    equalBytes(a.fundingOutpoint.txid, b.fundingOutpoint.txid) &&
    a.fundingOutpoint.vout === b.fundingOutpoint.vout &&
    a.fundingAmount === b.fundingAmount &&
    a.holderIsFunder === b.holderIsFunder &&
    a.holderSelfDelay === b.holderSelfDelay &&
    a.counterpartySelfDelay === b.counterpartySelfDelay &&
    a.holderDustLimit === b.holderDustLimit &&
    a.counterpartyDustLimit === b.counterpartyDustLimit &&
    BASEPOINT_FIELDS.every((k) => equalBytes(a.counterpartyBasepoints[k], b.counterpartyBasepoints[k]))

  /** The checks of `readyChannel` on parameters about to be registered (or restored). */
  const checkParameters = (r: ChannelRecord, parameters: ChannelParameters): void => {
    const delays = [parameters.holderSelfDelay, parameters.counterpartySelfDelay]
    if (!delays.every((d) => Number.isInteger(d) && d >= 0 && d <= 0xffff)) invalid("to_self_delay out of range")
    if (parameters.fundingAmount <= 0n) invalid("funding amount must be positive")
    if (parameters.holderDustLimit < 0n || parameters.counterpartyDustLimit < 0n) invalid("dust limit must not be negative")
    for (const k of BASEPOINT_FIELDS) {
      if (!secp.isValidPoint(parameters.counterpartyBasepoints[k])) invalid("invalid counterparty basepoint")
    }
    if (equalBytes(parameters.counterpartyBasepoints.fundingPubkey, r.basepoints.fundingPubkey)) invalid("counterparty reuses our funding key")
  }

  /**
   * Rebuilds our commitment `state` under parameters `p` and verifies the counterparty's
   * signatures on it and on its HTLC transactions (`onBad` says how a bad one is reported).
   * The state is copied, its HTLCs reduced to their four fields (nothing else is kept or persisted).
   */
  const checkHolderCommitment = (
    r: ChannelRecord,
    p: ChannelParameters,
    state: CommitmentState,
    counterpartySignature: Uint8Array,
    counterpartyHtlcSignatures: ReadonlyArray<Uint8Array>,
    onBad: (reason: string, htlcIndex: number | undefined) => never
  ): HolderCommitment => {
    const copy: CommitmentState = {
      commitmentNumber: state.commitmentNumber,
      feeratePerKw: state.feeratePerKw,
      toLocal: state.toLocal,
      toRemote: state.toRemote,
      htlcs: state.htlcs.map((h) => ({ direction: h.direction, amount: h.amount, paymentHash: copyOf(h.paymentHash), cltvExpiry: h.cltvExpiry }))
    }
    const { commitment, keys } = buildCommitment(r, p, "holder", copy, holderPoint(r, copy.commitmentNumber))
    if (counterpartySignature.length !== 64 || !verifyCommitmentSignature(secp, commitment, counterpartySignature, p.counterpartyBasepoints.fundingPubkey))
      onBad("commitment signature does not verify", undefined)
    const htlcTxs = htlcTransactions(commitment)
    if (htlcTxs.length !== counterpartyHtlcSignatures.length)
      onBad(`expected ${htlcTxs.length} HTLC signatures, got ${counterpartyHtlcSignatures.length}`, undefined)
    htlcTxs.forEach((htlcTx, i) => {
      const sig = counterpartyHtlcSignatures[i]
      if (sig === undefined || sig.length !== 64 || !verifyRemoteHtlcSignature(secp, htlcTx, sig, keys.remoteHtlcPubkey))
        onBad("HTLC signature does not verify", i)
    })
    return {
      state: copy,
      txid: copyOf(commitmentTxid(commitment)),
      counterpartySignature: copyOf(counterpartySignature),
      counterpartyHtlcSignatures: counterpartyHtlcSignatures.map((sig) => copyOf(sig)),
      exported: undefined
    }
  }

  const sameTransaction = (a: HolderCommitment, b: HolderCommitment): boolean => equalBytes(a.txid, b.txid)

  /**
   * A held commitment's transaction and HTLC transactions, rebuilt from its state (through the
   * memo of builds, so a recent one is not built again). The state was validated under the
   * registered parameters, so it builds; that it still gives the txid validated is checked.
   */
  const holderTransactions = (
    r: ReadyRecord,
    held: HolderCommitment
  ): { readonly commitment: CommitmentTransaction<CommitmentHtlc>; readonly htlcTxs: ReadonlyArray<HtlcTransaction<CommitmentHtlc>> } => {
    const { commitment } = buildCommitment(r, r.parameters, "holder", held.state, holderPoint(r, held.state.commitmentNumber))
    if (!equalBytes(commitmentTxid(commitment), held.txid)) return invalid("the held commitment no longer builds to the transaction validated")
    return { commitment, htlcTxs: htlcTransactions(commitment) }
  }

  /**
   * The exported form of registered parameters and of each held commitment, made once per
   * object (both are immutable once made; a held commitment keeps its own in `exported`, the
   * parameters' are in a map by identity): consecutive exports share them, so the channel
   * layer's encoders (`signer-state-json.ts`) encode each part once too. Frozen; the byte
   * arrays are copies of the signer's own, so a caller cannot reach its state through them.
   */
  const exportedParameters = new WeakMap<ChannelParameters, NonNullable<SignerChannelState["parameters"]>>()
  const exportParameters = (p: ChannelParameters): NonNullable<SignerChannelState["parameters"]> => {
    const held = exportedParameters.get(p)
    if (held !== undefined) return held
    const b = p.counterpartyBasepoints
    const exported = Object.freeze({
      channelType: p.channelType.name,
      fundingOutpoint: Object.freeze({ txid: txidFromBytes(copyOf(p.fundingOutpoint.txid)), vout: p.fundingOutpoint.vout }),
      fundingAmount: p.fundingAmount,
      holderIsFunder: p.holderIsFunder,
      counterpartyBasepoints: Object.freeze({
        fundingPubkey: unsafePublicKey(copyOf(b.fundingPubkey)),
        revocationBasepoint: unsafePublicKey(copyOf(b.revocationBasepoint)),
        paymentBasepoint: unsafePublicKey(copyOf(b.paymentBasepoint)),
        delayedPaymentBasepoint: unsafePublicKey(copyOf(b.delayedPaymentBasepoint)),
        htlcBasepoint: unsafePublicKey(copyOf(b.htlcBasepoint))
      }),
      holderSelfDelay: p.holderSelfDelay,
      counterpartySelfDelay: p.counterpartySelfDelay,
      holderDustLimit: p.holderDustLimit,
      counterpartyDustLimit: p.counterpartyDustLimit
    })
    exportedParameters.set(p, exported)
    return exported
  }
  const exportHolder = (h: HolderCommitment): SignerChannelState["holderCommitments"][number] => {
    const held = h.exported
    if (held !== undefined) return held
    // Written out, not spread over the held state and HTLCs (V8 copies a spread object through
    // a generic path): the same fields in the same order (those `checkHolderCommitment` copied).
    const s = h.state
    const htlcs = s.htlcs.map((x) => Object.freeze({ direction: x.direction, amount: x.amount, paymentHash: copyOf(x.paymentHash), cltvExpiry: x.cltvExpiry }))
    const signatures = h.counterpartyHtlcSignatures.map(copyOf)
    const exported = Object.freeze({
      state: Object.freeze({ commitmentNumber: s.commitmentNumber, feeratePerKw: s.feeratePerKw, toLocal: s.toLocal, toRemote: s.toRemote, htlcs: Object.freeze(htlcs) }),
      counterpartySignature: copyOf(h.counterpartySignature),
      counterpartyHtlcSignatures: Object.freeze(signatures)
    })
    h.exported = exported
    return exported
  }

  /**
   * The held commitments exported, in commitment-number order: an insertion into place (at most
   * two, see `validateHolderCommitment`), where `Array.prototype.sort` would allocate its merge
   * state on every export.
   */
  const exportHolders = (holders: ReadonlyMap<bigint, HolderCommitment>): Array<SignerChannelState["holderCommitments"][number]> => {
    const out: Array<SignerChannelState["holderCommitments"][number]> = []
    // `forEach`, not `for...of`: in code V8 compiles only with Maglev (a few exports per round trip) each iterator step allocates its result.
    holders.forEach((h) => {
      const e = exportHolder(h)
      let i = out.length
      for (let before = out[i - 1]; before !== undefined && before.state.commitmentNumber > e.state.commitmentNumber; before = out[i - 1]) out[i--] = before
      out[i] = e
    })
    return out
  }

  /*
   * Each record keeps its last export, with the parts of the record it was made from
   * (`ChannelRecord.lastExport`): the channel layer asks for the state before every write, often
   * with nothing changed since the previous one (every change replaces one of these parts:
   * parameters and the last signed counterparty commitment are new objects, the two numbers new
   * values, and the held commitments a new `holdersVersion`).
   */

  /**
   * The record's policy state as a `SignerChannelState` (later changes do not show through: each
   * part is a copy). Frozen, and the same object again while the record is unchanged (its byte
   * arrays, like those of the parameters and held commitments, are shared: not to be changed).
   */
  const exportState = (keyId: ChannelKeyId, r: ChannelRecord): SignerChannelState => {
    const p = r.parameters
    const last = r.lastCounterpartySigned
    const seen = r.lastExport
    const sameHeld = seen !== undefined && seen.holdersVersion === r.holdersVersion
    if (sameHeld && seen.parameters === p && seen.revokedBelow === r.revokedBelow && seen.highestValidated === r.highestValidated && seen.last === last)
      return seen.state
    // A part unchanged since the last export is taken from it (every change replaces a part).
    const state: SignerChannelState = Object.freeze({
      version: 1,
      keyId: seen?.state.keyId ?? copyOf(keyId),
      parameters: p === undefined ? null : seen !== undefined && seen.parameters === p ? seen.state.parameters : exportParameters(p),
      revokedBelow: r.revokedBelow,
      highestValidated: r.highestValidated ?? null,
      lastCounterpartySigned:
        seen && seen.last === last ? seen.state.lastCounterpartySigned : last ? Object.freeze({ commitmentNumber: last.commitmentNumber, txid: copyOf(last.txid) }) : null,
      holderCommitments: sameHeld
        ? seen.state.holderCommitments
        : Object.freeze(exportHolders(r.holderCommitments))
    })
    r.lastExport = { parameters: p, revokedBelow: r.revokedBelow, highestValidated: r.highestValidated, last, holdersVersion: r.holdersVersion, state }
    return state
  }

  /**
   * A `SignerChannelState` checked and turned back into memory form: its key id, parameters and
   * numbers consistent (what the operations themselves could have produced), each held commitment
   * rebuilt with the counterparty's signatures verified. Throws `invalid` otherwise; changes nothing.
   */
  const importState = (keyId: ChannelKeyId, r: ChannelRecord, state: SignerChannelState): PolicyState => {
    if (state.version !== 1) invalid(`unknown signer state version ${state.version}`)
    if (!equalBytes(state.keyId, keyId)) invalid("the signer state is another channel's (key id differs)")
    const parameters: ChannelParameters | undefined =
      state.parameters === null ? undefined : { ...state.parameters, channelType: channelTypeByName(state.parameters.channelType) }
    if (parameters !== undefined) checkParameters(r, parameters)
    const { revokedBelow } = state
    const highestValidated = state.highestValidated ?? undefined
    if (revokedBelow < 0n || revokedBelow > MAX_COMMITMENT_NUMBER + 1n) invalid("revoked-below number out of range")
    if (highestValidated !== undefined) checkCommitmentNumber(highestValidated)
    // A secret is released only once a later commitment was validated: revokedBelow <= highestValidated.
    if (revokedBelow > 0n && (highestValidated === undefined || revokedBelow > highestValidated))
      invalid("commitments revoked beyond the highest validated one")
    const lastSigned = state.lastCounterpartySigned
    if (lastSigned !== null) checkCommitmentNumber(lastSigned.commitmentNumber)
    if (parameters === undefined && (highestValidated !== undefined || lastSigned !== null || state.holderCommitments.length > 0))
      invalid("commitments without registered parameters")
    const holderCommitments = new Map<bigint, HolderCommitment>()
    if (state.holderCommitments.length > 2) invalid("more than two unrevoked holder commitments")
    for (const h of state.holderCommitments) {
      const n = h.state.commitmentNumber
      checkCommitmentNumber(n)
      if (holderCommitments.has(n)) invalid(`holder commitment ${n} appears twice`)
      if (n < revokedBelow || highestValidated === undefined || n > highestValidated) invalid(`holder commitment ${n} outside the validated, unrevoked range`)
      if (parameters === undefined) return invalid("commitments without registered parameters")
      holderCommitments.set(n, checkHolderCommitment(r, parameters, h.state, h.counterpartySignature, h.counterpartyHtlcSignatures, (reason) => invalid(`held commitment ${n}: ${reason}`)))
    }
    // The highest validated commitment is never revoked, so it is always held.
    if (highestValidated !== undefined && !holderCommitments.has(highestValidated)) invalid(`the highest validated commitment ${highestValidated} is not held`)
    return {
      parameters,
      holderCommitments,
      revokedBelow,
      highestValidated,
      lastCounterpartySigned: lastSigned === null ? undefined : { commitmentNumber: lastSigned.commitmentNumber, txid: copyOf(lastSigned.txid) }
    }
  }

  /** Throws `stale` unless `restored` is at or ahead of what record `r` holds, in every respect. */
  const checkNotBehind = (r: ChannelRecord, restored: PolicyState): void => {
    if (r.parameters !== undefined && (restored.parameters === undefined || !sameParameters(r.parameters, restored.parameters)))
      stale("the state's channel parameters differ from those registered")
    if (restored.revokedBelow < r.revokedBelow) stale(`the state revokes below ${restored.revokedBelow}, the signer already below ${r.revokedBelow}`)
    if (r.highestValidated !== undefined && (restored.highestValidated === undefined || restored.highestValidated < r.highestValidated))
      stale(`the signer validated holder commitment ${r.highestValidated}, the state only ${restored.highestValidated ?? "none"}`)
    const mine = r.lastCounterpartySigned
    const theirs = restored.lastCounterpartySigned
    if (mine !== undefined) {
      if (theirs === undefined || theirs.commitmentNumber < mine.commitmentNumber)
        stale(`the signer signed counterparty commitment ${mine.commitmentNumber}, the state only ${theirs?.commitmentNumber ?? "none"}`)
      else if (theirs.commitmentNumber === mine.commitmentNumber && !equalBytes(theirs.txid, mine.txid))
        stale(`the state's counterparty commitment ${mine.commitmentNumber} is another transaction than the one signed`)
    }
    for (const [n, held] of r.holderCommitments) {
      if (n < restored.revokedBelow) continue // revoked in the state: it moved on
      const other = restored.holderCommitments.get(n)
      if (other === undefined) stale(`the signer holds validated commitment ${n}, which the state lacks`)
      else if (!sameTransaction(held, other)) stale(`the state's holder commitment ${n} is another transaction than the one validated`)
    }
  }

  const signSpendSync = (keyId: ChannelKeyId, request: SpendRequest): SpendSignature => {
    const r = ready(keyId)
    const p = r.parameters
    const { tx, inputIndex, amount, spend } = request
    const input = tx.inputs[inputIndex]
    if (input === undefined) return invalid("input index out of range")
    if (amount <= 0n) invalid("amount must be positive")
    const theirs = p.counterpartyBasepoints
    let key: PrivateKey
    let scriptCode: Uint8Array
    let witnessScript: Uint8Array | undefined
    switch (spend._tag) {
      case "HolderDelayed": {
        const point = holderPoint(r, spend.commitmentNumber)
        const keys = unwrap(deriveCommitmentKeys(secp, r.basepoints, theirs, point), "key derivation failed")
        key = derive(r.secrets.delayedPaymentBase, r.basepoints.delayedPaymentBasepoint, point)
        witnessScript = toLocalScript(keys.revocationPubkey, p.holderSelfDelay, keys.localDelayedPubkey)
        scriptCode = witnessScript
        if (!satisfiesCsv(tx, input.sequence, p.holderSelfDelay)) invalid("input sequence does not satisfy to_self_delay")
        break
      }
      case "CounterpartyToRemote": {
        key = r.secrets.paymentBase
        if (p.channelType.anchors) {
          witnessScript = toRemoteAnchorsScript(r.basepoints.paymentBasepoint)
          scriptCode = witnessScript
          if (!satisfiesCsv(tx, input.sequence, 1)) invalid("anchors to_remote needs nSequence 1")
        } else {
          witnessScript = undefined
          scriptCode = p2wpkhScriptCode(r.basepoints.paymentBasepoint)
        }
        break
      }
      case "Anchor": {
        key = r.secrets.funding
        witnessScript = anchorScript(r.basepoints.fundingPubkey)
        scriptCode = witnessScript
        break
      }
      case "CounterpartyHtlc": {
        const keys = unwrap(deriveCommitmentKeys(secp, theirs, r.basepoints, spend.perCommitmentPoint), "invalid per-commitment point")
        key = derive(r.secrets.htlcBase, r.basepoints.htlcBasepoint, spend.perCommitmentPoint)
        const { htlc } = spend
        if (htlc.paymentHash.length !== 32) invalid("payment hash must be 32 bytes")
        if (htlc.direction === "offered") {
          witnessScript = offeredHtlcScript(keys, htlc.paymentHash, p.channelType.anchors)
        } else {
          witnessScript = receivedHtlcScript(keys, htlc.paymentHash, htlc.cltvExpiry, p.channelType.anchors)
          if (tx.locktime < htlc.cltvExpiry || tx.locktime >= 500_000_000 || input.sequence === 0xffffffff)
            invalid("an HTLC timeout claim needs nLockTime >= cltv_expiry and a non-final input")
        }
        if (p.channelType.anchors && !satisfiesCsv(tx, input.sequence, 1)) invalid("anchors HTLC outputs need nSequence 1")
        scriptCode = witnessScript
        break
      }
      case "Revoked": {
        const secret = spend.perCommitmentSecret
        if (!secp.isValidSecret(secret)) return invalid("invalid per-commitment secret")
        const point = unwrap(pointOfSecret(secp, secret), "invalid per-commitment secret")
        // Their commitment: they are BOLT 3's "local", we are "remote"; our revocation basepoint made its revocation key.
        const keys = unwrap(deriveCommitmentKeys(secp, theirs, r.basepoints, point), "key derivation failed")
        key = unwrap(deriveRevocationPrivateKey(secp, r.secrets.revocationBase, secret), "revocation key derivation failed")
        if (!equalBytes(pub(key), keys.revocationPubkey)) invalid("revocation key mismatch")
        const out = spend.output
        if (out._tag === "Htlc") {
          if (out.htlc.paymentHash.length !== 32) invalid("payment hash must be 32 bytes")
          witnessScript =
            out.htlc.direction === "offered"
              ? offeredHtlcScript(keys, out.htlc.paymentHash, p.channelType.anchors)
              : receivedHtlcScript(keys, out.htlc.paymentHash, out.htlc.cltvExpiry, p.channelType.anchors)
        } else {
          witnessScript = toLocalScript(keys.revocationPubkey, p.counterpartySelfDelay, keys.localDelayedPubkey)
        }
        scriptCode = witnessScript
        break
      }
    }
    const signature = signInput(secp, { tx, index: inputIndex, scriptCode, amount }, SIGHASH_ALL, key)
    return { signature, sighashType: SIGHASH_ALL, witnessScript, publicKey: pub(key) }
  }

  /**
   * The operations of every commitment (BOLT 2 `commitment_signed` and `revoke_and_ack`), as
   * functions answering at once: the channel calls them with no effect (`declareChannelSignerNow`),
   * and the shape's methods of the same names are these run as effects (one implementation).
   * Each catches its refusals itself (`failure`), as `attempt` does, without a closure per call.
   */
  const now: ChannelSignerNow = {
    perCommitmentPoint: (keyId, n) => {
      try {
        const r = record(keyId)
        const e = holderPerCommitment(r, n)
        const point = pointOf(e)
        if (isReady(r)) warmHolderKeys(r, e, point)
        return Result.succeed(point)
      } catch (e) {
        return failure(e, refusal)
      }
    },

    validateHolderCommitment: (keyId, state, counterpartySignature, counterpartyHtlcSignatures) => {
      try {
        const r = ready(keyId)
        const n = state.commitmentNumber
        checkCommitmentNumber(n)
        if (n < r.revokedBelow) policy(`commitment ${n} is already revoked`)
        const held = checkHolderCommitment(r, r.parameters, state, counterpartySignature, counterpartyHtlcSignatures, badSignature)
        // One number, one transaction; and BOLT 2 never has more than two unrevoked commitments
        // of ours (the current one and the next, until we revoke the current): this also bounds the map.
        const existing = r.holderCommitments.get(n)
        if (existing !== undefined && !sameTransaction(existing, held)) policy(`a different commitment ${n} was already validated`)
        if (existing === undefined && r.holderCommitments.size >= 2) policy("two unrevoked commitments are already held: revoke the older one first")
        r.holderCommitments.set(n, held)
        r.holdersVersion++
        if (r.highestValidated === undefined || n > r.highestValidated) r.highestValidated = n
        return Result.void
      } catch (e) {
        return failure(e, validationRefusal)
      }
    },

    releaseCommitmentSecret: (keyId, n) => {
      try {
        const r = record(keyId)
        checkCommitmentNumber(n)
        if (r.highestValidated === undefined || r.highestValidated <= n)
          policy(`commitment ${n} is not superseded by a validated commitment: its secret stays private`)
        const e = holderPerCommitment(r, n)
        const secret = copyOf(e.secret)
        if (n + 1n > r.revokedBelow) r.revokedBelow = n + 1n
        // Public from now on: the points memo keeps its point under the secret itself, so the
        // checks of the secret against the point that follow (the channel's, and in one process
        // the peer's and its monitor's) make no hash (`reveal`).
        if (e.point !== undefined) sharedPerCommitmentPoints.reveal(secp, e.secret)
        for (const k of r.holderCommitments.keys()) {
          if (k < r.revokedBelow) {
            r.holderCommitments.delete(k)
            r.holdersVersion++
          }
        }
        return Result.succeed(secret)
      } catch (e) {
        return failure(e, refusal)
      }
    },

    signCounterpartyCommitment: (keyId, state, counterpartyPoint) => {
      try {
        const r = ready(keyId)
        // An invalid counterparty point is refused by the key derivation (its point
        // multiplication parses the point; the keys memo holds only points that parsed): no
        // separate check, which would parse the point a second time on every commitment.
        const { commitment } = buildCommitment(r, r.parameters, "counterparty", state, counterpartyPoint)
        // Counterparty commitments advance one at a time; one number is one transaction (a
        // retransmission after reconnection must be identical, BOLT 2). Two different states
        // under one number, or going back to an older one, would let the peer keep an extra
        // valid commitment.
        const id = commitmentTxid(commitment)
        const last = r.lastCounterpartySigned
        const n = state.commitmentNumber
        if (last !== undefined) {
          if (n < last.commitmentNumber) policy(`counterparty commitment ${n} is older than the last one signed (${last.commitmentNumber})`)
          if (n > last.commitmentNumber + 1n) policy(`counterparty commitment ${n} skips numbers (last signed ${last.commitmentNumber})`)
          if (n === last.commitmentNumber && !equalBytes(id, last.txid)) policy(`a different counterparty commitment ${n} was already signed`)
        }
        const signature = CompactSignature(secp.sign(skipsDigest(secp) ? NO_DIGEST : commitmentSighash(commitment), r.hot.funding))
        // Our HTLC key on their commitment is BOLT 3's remote_htlcpubkey, derived at their point
        // (only when there is an HTLC output to sign).
        const htlcTxs = htlcTransactions(commitment)
        const htlcKey = htlcTxs.length === 0 ? undefined : counterpartyHtlcSecret(r, counterpartyPoint)
        const htlcSignatures = htlcKey === undefined ? [] : htlcTxs.map((h) => CompactSignature(secp.sign(skipsDigest(secp) ? NO_DIGEST : htlcSighash(h, h.remoteSighash), htlcKey)))
        r.lastCounterpartySigned = { commitmentNumber: n, txid: id }
        return Result.succeed({ signature, htlcSignatures, txid: id })
      } catch (e) {
        return failure(e, refusal)
      }
    }
  }

  return declareChannelSignerNow(ChannelSigner.of({
    channelPublicKeys: (keyId) =>
      run(() => record(keyId).basepoints).pipe(Effect.orDie),

    readyChannel: (keyId, parameters) =>
      run(() => {
        const r = record(keyId)
        if (r.parameters !== undefined) {
          if (!sameParameters(r.parameters, parameters)) policy("channel parameters already registered differently")
          return
        }
        checkParameters(r, parameters)
        r.parameters = parameters
      }),

    perCommitmentPoint: lift(now.perCommitmentPoint),
    validateHolderCommitment: lift(now.validateHolderCommitment),
    releaseCommitmentSecret: lift(now.releaseCommitmentSecret),
    signCounterpartyCommitment: lift(now.signCounterpartyCommitment),

    signHolderCommitment: (keyId, n) =>
      run(() => {
        const r = ready(keyId)
        const held = storedHolderCommitment(r, n)
        const { commitment } = holderTransactions(r, held)
        const ours = signCommitment(secp, commitment, r.secrets.funding)
        return { commitmentNumber: n, tx: finalizeCommitment(commitment, ours, held.counterpartySignature) }
      }),

    signHolderHtlcTransaction: (keyId, n, htlcIndex, preimage, feeBumped) =>
      run(() => {
        const r = ready(keyId)
        const held = storedHolderCommitment(r, n)
        const htlcTx = holderTransactions(r, held).htlcTxs[htlcIndex]
        const remote = held.counterpartyHtlcSignatures[htlcIndex]
        if (htlcTx === undefined || remote === undefined) return invalid("no such HTLC output")
        // Checks the preimage (HTLC-success needs the right one, HTLC-timeout none).
        const finalize = (local: Uint8Array): Transaction => {
          const signed = finalizeHtlcTransaction(htlcTx, remote, local, preimage)
          return Result.isSuccess(signed) ? signed.success : invalid(signed.failure.reason)
        }
        const key = derive(r.secrets.htlcBase, r.basepoints.htlcBasepoint, holderPoint(r, n))
        if (feeBumped === undefined) return finalize(signHtlcAsLocal(secp, htlcTx, key))
        if (!r.parameters.channelType.zeroFeeHtlcTx) invalid("only zero-fee (anchors) HTLC transactions take added inputs")
        const { tx, inputIndex } = feeBumped
        const template = htlcTx.tx
        const input = tx.inputs[inputIndex]
        const templateInput = template.inputs[0]
        const output = tx.outputs[inputIndex]
        const templateOutput = template.outputs[0]
        if (input === undefined || templateInput === undefined || output === undefined || templateOutput === undefined)
          return invalid("the HTLC input and its paired output must be at inputIndex")
        const sameInput =
          equalBytes(input.prevout.txid, templateInput.prevout.txid) &&
          input.prevout.vout === templateInput.prevout.vout &&
          input.sequence === templateInput.sequence
        const sameOutput = output.value === templateOutput.value && equalBytes(output.scriptPubKey, templateOutput.scriptPubKey)
        if (!sameInput || !sameOutput || tx.version !== template.version || tx.locktime !== template.locktime)
          invalid("the fee-bumped transaction must keep the HTLC input, its paired output, version and locktime")
        // Our signature commits to the whole fee-bumped transaction (SIGHASH_ALL); the witness
        // stack is the HTLC transaction's, moved to the caller's input index.
        const local = signInput(secp, { tx, index: inputIndex, scriptCode: htlcTx.inputWitnessScript, amount: htlcTx.inputAmount }, SIGHASH_ALL, key)
        return setWitness(tx, inputIndex, finalize(local).inputs[0]?.witness ?? [])
      }),

    signSpend: (keyId, request) => run(() => signSpendSync(keyId, request)),

    signClosing: (keyId, tx) =>
      run(() => {
        const r = ready(keyId)
        const p = r.parameters
        const input = tx.inputs[0]
        if (tx.inputs.length !== 1 || input === undefined) return invalid("a closing transaction has exactly one input")
        if (!equalBytes(input.prevout.txid, p.fundingOutpoint.txid) || input.prevout.vout !== p.fundingOutpoint.vout)
          invalid("a closing transaction spends the funding output")
        const total = tx.outputs.reduce((a, o) => a + o.value, 0n)
        if (tx.outputs.length === 0 || total > p.fundingAmount) invalid("closing outputs exceed the funding amount")
        const scriptCode = fundingScript(r.basepoints.fundingPubkey, p.counterpartyBasepoints.fundingPubkey)
        return signInput(secp, { tx, index: 0, scriptCode, amount: p.fundingAmount }, SIGHASH_ALL, r.secrets.funding)
      }),

    signChannelAnnouncement: (keyId, unsigned) =>
      run(() => {
        const r = record(keyId)
        // BOLT 7 channel_announcement after the signatures: len, features, chain_hash,
        // short_channel_id, node_id_1, node_id_2, bitcoin_key_1, bitcoin_key_2 (then any future fields).
        if (unsigned.length < 2) return invalid("channel_announcement too short")
        const featuresLength = ((unsigned[0] ?? 0) << 8) | (unsigned[1] ?? 0)
        const key1At = 2 + featuresLength + 32 + 8 + 33 + 33
        if (unsigned.length < key1At + 66) return invalid("channel_announcement too short")
        const key1 = unsigned.subarray(key1At, key1At + 33)
        const key2 = unsigned.subarray(key1At + 33, key1At + 66)
        const ours = r.basepoints.fundingPubkey
        const other = equalBytes(key1, ours) ? key2 : equalBytes(key2, ours) ? key1 : undefined
        if (other === undefined) return invalid("our funding pubkey is neither bitcoin_key_1 nor bitcoin_key_2")
        const p = r.parameters
        if (p !== undefined && !equalBytes(other, p.counterpartyBasepoints.fundingPubkey))
          invalid("the other bitcoin key is not the counterparty's funding pubkey")
        return CompactSignature(secp.sign(hash256(unsigned), Redacted.value(r.secrets.funding)))
      }),

    channelState: (keyId) => effectOf(() => attempt(() => exportState(keyId, record(keyId)), invalidOnly)),
    // Called before every write of the channel: the same as `channelState`, without a closure and a `Result` per call.
    channelStateNow: (keyId) => {
      try {
        return exportState(keyId, record(keyId))
      } catch (e) {
        if (invalidOnly(e) !== undefined) return undefined
        throw e
      }
    },

    restoreChannel: (keyId, state) =>
      runRestore(() => {
        const r = record(keyId)
        // Everything is checked before anything is changed: a refusal leaves the record as it was.
        const restored = importState(keyId, r, state)
        checkNotBehind(r, restored)
        r.parameters = restored.parameters
        r.revokedBelow = restored.revokedBelow
        r.highestValidated = restored.highestValidated
        r.lastCounterpartySigned = restored.lastCounterpartySigned
        r.holderCommitments.clear()
        for (const [n, held] of restored.holderCommitments) r.holderCommitments.set(n, held)
        r.holdersVersion++
      })
  }), now)
}

/**
 * Production layer: the in-process signer over `seed` with the fastest secp256k1 that loads
 * (native, WASM, then noble: `Secp256k1Best`).
 */
export const layer = (seed: Uint8Array, options: SeedChannelSignerOptions = {}): Layer.Layer<ChannelSigner> =>
  Layer.unwrap(Effect.map(Secp256k1Best, ({ secp }) => layerWith(seed, secp, options)))

/** Layer: the in-process signer over `seed` with the given secp256k1 implementation. */
export const layerWith = (seed: Uint8Array, secp: Secp256k1, options: SeedChannelSignerOptions = {}): Layer.Layer<ChannelSigner> =>
  Layer.sync(ChannelSigner, () => makeSeedChannelSigner(seed, secp, options))
