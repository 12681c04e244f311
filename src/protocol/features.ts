/**
 * BOLT 9 feature bits. A feature vector is a set of bit numbers (bit 0 = least significant
 * bit of the LAST byte on the wire). Each feature owns a pair: the even bit means
 * "required" (compulsory), the odd bit "supported" (optional). The table below is BOLT 9's
 * assignment table with its contexts and dependencies; negotiation and validation follow
 * BOLT 1 (`init`) and BOLT 9 requirements.
 */
import { Data, Result, Schema, SchemaTransformation } from "effect"

// ---- bit vectors ---------------------------------------------------------------------------------

/** The set bits of a feature vector. Immutable by convention: every function returns a new set. */
export type FeatureBits = ReadonlySet<number>

const Bit = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffff * 8 - 1 })))

/** JSON form: the set bits as an ascending array of numbers. */
export const FeatureBitsSchema: Schema.Codec<FeatureBits, ReadonlyArray<number>> = Schema.Array(Bit).pipe(
  Schema.decodeTo(
    Schema.ReadonlySet(Bit),
    SchemaTransformation.transform({
      decode: (bits: ReadonlyArray<number>): FeatureBits => new Set(bits),
      encode: (bits: FeatureBits): ReadonlyArray<number> => [...bits].sort((a, b) => a - b)
    })
  )
)

export const noFeatures: FeatureBits = new Set<number>()

/** Reads a big-endian bit field (any length; a u16-prefixed field is at most 65535 bytes). */
export const featuresFromBytes = (bytes: Uint8Array): FeatureBits => {
  const out = new Set<number>()
  const n = bytes.length
  for (let i = 0; i < n; i++) {
    const byte = bytes[n - 1 - i] ?? 0
    if (byte === 0) continue
    for (let b = 0; b < 8; b++) if ((byte >> b) & 1) out.add(i * 8 + b)
  }
  return out
}

/** The minimal big-endian encoding (BOLT 1: "SHOULD use the minimum length"). */
export const featuresToBytes = (bits: FeatureBits): Uint8Array => {
  let max = -1
  for (const b of bits) if (b > max) max = b
  const len = max < 0 ? 0 : (max >> 3) + 1
  const out = new Uint8Array(len)
  for (const b of bits) out[len - 1 - (b >> 3)] = (out[len - 1 - (b >> 3)] ?? 0) | (1 << (b & 7))
  return out
}

export const featureBits = (...bits: ReadonlyArray<number>): FeatureBits => new Set(bits)

/** `init` carries two bitmaps for historical reasons: the receiver ORs them (BOLT 1). */
export const unionFeatures = (a: FeatureBits, b: FeatureBits): FeatureBits => {
  const out = new Set(a)
  for (const bit of b) out.add(bit)
  return out
}

export const hasBit = (bits: FeatureBits, bit: number): boolean => bits.has(bit)

// ---- the assignment table (BOLT 9) ---------------------------------------------------------------

/**
 * Where a feature may be presented: I = init, N = node_announcement, C = channel_announcement
 * (C- always odd, C+ always even), 9 = BOLT 11 invoice, B = blinded path `allowed_features`,
 * T = `channel_type`.
 */
export type FeatureContext = "I" | "N" | "C" | "C-" | "C+" | "9" | "B" | "T"

export interface FeatureInfo {
  readonly name: FeatureName
  /** The required bit; the optional bit is `evenBit + 1`. */
  readonly evenBit: number
  readonly oddBit: number
  /** BOLT 9 "ASSUMED": so widespread every node is taken to support it. */
  readonly assumed: boolean
  /** Contexts from the table's Context column. */
  readonly contexts: ReadonlyArray<FeatureContext>
  /**
   * Where an ASSUMED (or retired-context) feature used to be presented before BOLT 9
   * blanked its Context column. Peers still set these bits (LDK, CLN, LND all do in
   * `init`), so we accept and advertise them there.
   */
  readonly legacyContexts: ReadonlyArray<FeatureContext>
  readonly dependencies: ReadonlyArray<FeatureName>
}

const F = (
  name: FeatureName,
  evenBit: number,
  assumed: boolean,
  contexts: string,
  dependencies: ReadonlyArray<FeatureName> = [],
  legacyContexts = ""
): FeatureInfo => ({
  name,
  evenBit,
  oddBit: evenBit + 1,
  assumed,
  contexts: parseContexts(contexts),
  legacyContexts: parseContexts(legacyContexts),
  dependencies
})

const CONTEXTS: ReadonlyArray<FeatureContext> = ["I", "N", "C", "C-", "C+", "9", "B", "T"]

/** The table's Context column ("IN9", "C-"...) as a list; a letter outside BOLT 9's key is a table typo. */
const parseContexts = (s: string): ReadonlyArray<FeatureContext> => {
  const out: Array<FeatureContext> = []
  for (let i = 0; i < s.length; i++) {
    const next = s[i + 1]
    const token = s[i] === "C" && (next === "-" || next === "+") ? `C${next}` : (s[i] ?? "")
    const context = CONTEXTS.find((c) => c === token)
    if (context === undefined) throw new Error(`feature table: unknown context ${token}`) // a bug in FEATURES, at load
    out.push(context)
    i += token.length - 1
  }
  return out
}

export type FeatureName =
  | "option_data_loss_protect"
  | "option_upfront_shutdown_script"
  | "gossip_queries"
  | "var_onion_optin"
  | "gossip_queries_ex"
  | "option_static_remotekey"
  | "payment_secret"
  | "basic_mpp"
  | "option_support_large_channel"
  | "option_anchors"
  | "option_route_blinding"
  | "option_shutdown_anysegwit"
  | "option_dual_fund"
  | "option_quiesce"
  | "option_attribution_data"
  | "option_onion_messages"
  | "option_provide_storage"
  | "option_channel_type"
  | "option_scid_alias"
  | "option_payment_metadata"
  | "option_zeroconf"
  | "option_simple_close"
  | "option_splice"

/** BOLT 9 "Assigned Feature Flags", in bit order. */
export const FEATURES: ReadonlyArray<FeatureInfo> = [
  F("option_data_loss_protect", 0, true, "", [], "IN"),
  F("option_upfront_shutdown_script", 4, false, "IN"),
  F("gossip_queries", 6, false, "", [], "IN"),
  F("var_onion_optin", 8, true, "", [], "IN9"),
  F("gossip_queries_ex", 10, false, "IN"),
  F("option_static_remotekey", 12, true, "", [], "IN"),
  F("payment_secret", 14, true, "", [], "IN9"),
  F("basic_mpp", 16, false, "IN9", ["payment_secret"]),
  F("option_support_large_channel", 18, false, "IN"),
  F("option_anchors", 22, false, "INT"),
  F("option_route_blinding", 24, false, "IN9"),
  F("option_shutdown_anysegwit", 26, false, "IN"),
  F("option_dual_fund", 28, false, "IN"),
  F("option_quiesce", 34, false, "IN"),
  F("option_attribution_data", 36, false, "IN9"),
  F("option_onion_messages", 38, false, "IN"),
  F("option_provide_storage", 42, false, "IN"),
  F("option_channel_type", 44, true, "", [], "IN"),
  F("option_scid_alias", 46, false, "INT"),
  F("option_payment_metadata", 48, false, "9"),
  F("option_zeroconf", 50, false, "INT", ["option_scid_alias"]),
  F("option_simple_close", 60, false, "IN", ["option_shutdown_anysegwit"]),
  F("option_splice", 62, false, "IN")
]

const byName = new Map<FeatureName, FeatureInfo>(FEATURES.map((f) => [f.name, f]))
const byEvenBit = new Map<number, FeatureInfo>(FEATURES.map((f) => [f.evenBit, f]))

export const featureInfo = (name: FeatureName): FeatureInfo => {
  const f = byName.get(name)
  if (f === undefined) throw new Error(`unknown feature ${name}`) // unreachable: FeatureName is closed
  return f
}

/** The feature that owns `bit`, if BOLT 9 assigns it. */
export const featureOfBit = (bit: number): FeatureInfo | undefined => byEvenBit.get(bit & ~1)

export const isKnownBit = (bit: number): boolean => featureOfBit(bit) !== undefined

/** Whether the feature may appear in `context` (its Context column, or a legacy one for ASSUMED features). */
export const allowedIn = (f: FeatureInfo, context: FeatureContext): boolean =>
  f.contexts.includes(context) || f.legacyContexts.includes(context)

// ---- queries -----------------------------------------------------------------------------------

/** Offered = either bit of the pair is set (BOLT 1 "offered"). */
export const offers = (bits: FeatureBits, name: FeatureName): boolean => {
  const f = featureInfo(name)
  return bits.has(f.evenBit) || bits.has(f.oddBit)
}

/** Required = the even bit is set (both set counts as required, BOLT 9). */
export const requires = (bits: FeatureBits, name: FeatureName): boolean => bits.has(featureInfo(name).evenBit)

/** The names of the known features offered in `bits`, in bit order. */
export const offeredFeatures = (bits: FeatureBits): ReadonlyArray<FeatureName> =>
  FEATURES.filter((f) => bits.has(f.evenBit) || bits.has(f.oddBit)).map((f) => f.name)

/** Even bits set in `bits` that BOLT 9 does not assign (BOLT 1: the receiver MUST close the connection). */
export const unknownRequiredBits = (bits: FeatureBits): ReadonlyArray<number> =>
  [...bits].filter((b) => b % 2 === 0 && !isKnownBit(b)).sort((a, b) => a - b)

/** Odd bits set that BOLT 9 does not assign (to be ignored). */
export const unknownOptionalBits = (bits: FeatureBits): ReadonlyArray<number> =>
  [...bits].filter((b) => b % 2 === 1 && !isKnownBit(b)).sort((a, b) => a - b)

// ---- validation --------------------------------------------------------------------------------

/** A feature is offered without one of its (transitive) dependencies. */
export class MissingFeatureDependency extends Data.TaggedError("MissingFeatureDependency")<{
  readonly feature: FeatureName
  readonly dependency: FeatureName
}> {}

/** Both bits of a pair are set (an origin MUST NOT; a receiver treats it as required). */
export class BothFeatureBitsSet extends Data.TaggedError("BothFeatureBitsSet")<{
  readonly feature: FeatureName
}> {}

/** A known feature set in a context where BOLT 9 does not present it. */
export class FeatureNotInContext extends Data.TaggedError("FeatureNotInContext")<{
  readonly feature: FeatureName
  readonly context: FeatureContext
}> {}

/** The remote requires features we do not know or do not support. */
export class UnsupportedRequiredFeatures extends Data.TaggedError("UnsupportedRequiredFeatures")<{
  /** Even bits BOLT 9 does not assign. */
  readonly unknownBits: ReadonlyArray<number>
  /** Known features the remote requires that we do not offer. */
  readonly unsupported: ReadonlyArray<FeatureName>
}> {}

export type FeatureValidationError = MissingFeatureDependency | BothFeatureBitsSet | FeatureNotInContext

/**
 * The first dependency rule `bits` breaks, if any: every offered feature's dependencies (and
 * theirs, transitively) must be offered too (BOLT 9 "MUST set all transitive feature
 * dependencies"; BOLT 1: a receiver MUST close the connection otherwise).
 */
export const checkDependencies = (bits: FeatureBits): MissingFeatureDependency | undefined => {
  for (const f of FEATURES) {
    if (!(bits.has(f.evenBit) || bits.has(f.oddBit))) continue
    const seen = new Set<FeatureName>()
    const stack = [...f.dependencies]
    while (stack.length > 0) {
      const dep = stack.pop()
      if (dep === undefined || seen.has(dep)) continue
      seen.add(dep)
      const d = featureInfo(dep)
      if (!(bits.has(d.evenBit) || bits.has(d.oddBit))) return new MissingFeatureDependency({ feature: f.name, dependency: dep })
      stack.push(...d.dependencies)
    }
  }
  return undefined
}

/**
 * Checks a vector WE are about to present in `context` against BOLT 9's origin rules for the
 * features it assigns: dependencies, not both bits of a pair, only features presented in that
 * context, and C-/C+ parity. Bits BOLT 9 does not assign are not judged here (`buildFeatures`
 * never sets one).
 */
export const validateOwn = (bits: FeatureBits, context: FeatureContext): Result.Result<FeatureBits, FeatureValidationError> => {
  for (const b of bits) {
    const f = featureOfBit(b)
    if (f === undefined) continue
    if (bits.has(f.evenBit) && bits.has(f.oddBit)) return Result.fail(new BothFeatureBitsSet({ feature: f.name }))
    const ctx = context === "C" && f.contexts.includes("C-") ? "C-" : context === "C" && f.contexts.includes("C+") ? "C+" : context
    if (!allowedIn(f, ctx)) return Result.fail(new FeatureNotInContext({ feature: f.name, context }))
    if (ctx === "C-" && b === f.evenBit) return Result.fail(new FeatureNotInContext({ feature: f.name, context: "C-" }))
    if (ctx === "C+" && b === f.oddBit) return Result.fail(new FeatureNotInContext({ feature: f.name, context: "C+" }))
  }
  const missing = checkDependencies(bits)
  return missing === undefined ? Result.succeed(bits) : Result.fail(missing)
}

// ---- negotiation ---------------------------------------------------------------------------------

export interface NegotiatedFeatures {
  /** BOLT 1 "negotiated": both sides offered it, or we offered it as required. */
  readonly features: ReadonlySet<FeatureName>
  /** Unknown odd bits the remote set (ignored, kept for diagnostics). */
  readonly ignoredBits: ReadonlyArray<number>
}

/** The BOLT 1 rules once the remote's vector is known as: its known-feature bits, its unknown even and odd bits. */
const negotiateKnown = (
  ours: FeatureBits,
  theirsKnown: FeatureBits,
  unknownBits: ReadonlyArray<number>,
  ignoredBits: ReadonlyArray<number>
): Result.Result<NegotiatedFeatures, UnsupportedRequiredFeatures | MissingFeatureDependency> => {
  const unsupported: Array<FeatureName> = []
  for (const f of FEATURES) {
    if (theirsKnown.has(f.evenBit) && !(ours.has(f.evenBit) || ours.has(f.oddBit))) unsupported.push(f.name)
  }
  if (unknownBits.length > 0 || unsupported.length > 0) {
    return Result.fail(new UnsupportedRequiredFeatures({ unknownBits, unsupported }))
  }
  const missing = checkDependencies(theirsKnown)
  if (missing !== undefined) return Result.fail(missing)
  const features = new Set<FeatureName>()
  for (const f of FEATURES) {
    const we = ours.has(f.evenBit) || ours.has(f.oddBit)
    const they = theirsKnown.has(f.evenBit) || theirsKnown.has(f.oddBit)
    if ((we && they) || ours.has(f.evenBit)) features.add(f.name)
  }
  return Result.succeed({ features, ignoredBits })
}

/**
 * Negotiates a connection's features from our `init` bits and the remote's (global OR
 * local). Fails when the remote requires something we do not know or do not offer, or
 * breaks a dependency rule (BOLT 1 `init` receiver requirements). A feature is negotiated
 * when both offered it, or when we offered it as even: the peer did not disconnect, so it
 * supports it (BOLT 1). For a peer's wire bytes prefer `checkInitFeatures`, which never
 * builds the set of every bit.
 */
export const negotiate = (
  ours: FeatureBits,
  theirs: FeatureBits
): Result.Result<NegotiatedFeatures, UnsupportedRequiredFeatures | MissingFeatureDependency> =>
  negotiateKnown(
    ours,
    new Set(FEATURES.flatMap((f) => [f.evenBit, f.oddBit]).filter((b) => theirs.has(b))),
    unknownRequiredBits(theirs),
    unknownOptionalBits(theirs)
  )

/**
 * At most this many unknown bits are listed (`unknownBits`, `ignoredBits`) when negotiating
 * on wire bytes: the lists are diagnostics, and a 65535-byte vector holds 524,280 bits.
 */
export const MAX_LISTED_UNKNOWN_BITS = 64

/**
 * The set bits of a big-endian vector that `keep` accepts, ascending, at most `limit` of
 * them. Walks the bytes without building a set of every bit: on a hostile all-ones vector
 * that set alone costs about 100 ms.
 */
const scanBits = (bytes: Uint8Array, keep: (bit: number) => boolean, limit: number): Array<number> => {
  const out: Array<number> = []
  const n = bytes.length
  for (let i = 0; i < n; i++) {
    const byte = bytes[n - 1 - i] ?? 0
    if (byte === 0) continue
    for (let b = 0; b < 8; b++) {
      if (((byte >> b) & 1) === 1 && keep(i * 8 + b)) {
        out.push(i * 8 + b)
        if (out.length >= limit) return out
      }
    }
  }
  return out
}

/** The OR of two big-endian vectors of any lengths, aligned at bit 0 (their last bytes). */
export const orFeatureBytes = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a]
  const out = Uint8Array.from(long)
  const offset = long.length - short.length
  for (let i = 0; i < short.length; i++) out[offset + i] = (out[offset + i] ?? 0) | (short[i] ?? 0)
  return out
}

/** The remote's wire vector as `negotiateKnown` wants it, in time linear in its bytes. */
const negotiateBytes = (
  ours: FeatureBits,
  theirs: Uint8Array
): { readonly known: FeatureBits; readonly result: ReturnType<typeof negotiateKnown> } => {
  const known = new Set(scanBits(theirs, isKnownBit, Number.POSITIVE_INFINITY))
  const unknownBits = scanBits(theirs, (b) => b % 2 === 0 && !isKnownBit(b), MAX_LISTED_UNKNOWN_BITS)
  const ignoredBits = scanBits(theirs, (b) => b % 2 === 1 && !isKnownBit(b), MAX_LISTED_UNKNOWN_BITS)
  return { known, result: negotiateKnown(ours, known, unknownBits, ignoredBits) }
}

/**
 * `negotiate` on the remote's wire bytes: its `features` and `globalfeatures` (ORed here, BOLT
 * 1), or the two already combined as `remoteFeatures`. Linear in the bytes; the unknown bits
 * listed are the lowest `MAX_LISTED_UNKNOWN_BITS` of each parity.
 */
export const checkInitFeatures = (
  remoteFeatures: Uint8Array,
  remoteGlobalFeatures: Uint8Array = new Uint8Array(0),
  ours: FeatureBits = ourInitFeatureBits
): Result.Result<NegotiatedFeatures, UnsupportedRequiredFeatures | MissingFeatureDependency> =>
  negotiateBytes(ours, orFeatureBytes(remoteFeatures, remoteGlobalFeatures)).result

/**
 * The negotiated features as bits, for display: per negotiated feature its even bit if
 * either side required it, else its odd bit. Empty if negotiation fails.
 */
export const negotiatedBits = (local: Uint8Array, remote: Uint8Array): ReadonlyArray<number> => {
  const ours = featuresFromBytes(local)
  const { known: theirs, result } = negotiateBytes(ours, remote)
  if (Result.isFailure(result)) return []
  return FEATURES.filter((f) => result.success.features.has(f.name)).map((f) =>
    ours.has(f.evenBit) || theirs.has(f.evenBit) ? f.evenBit : f.oddBit
  )
}

// ---- building our own vectors --------------------------------------------------------------------

export type FeatureLevel = "optional" | "required"

/**
 * Builds the vector for `context` from the features we implement: each gets its odd bit
 * ("optional") or even bit ("required"); features not presented in the context are left
 * out, and the result must pass `validateOwn` (dependencies included).
 */
export const buildFeatures = (
  context: FeatureContext,
  wanted: ReadonlyArray<readonly [FeatureName, FeatureLevel]>
): Result.Result<FeatureBits, FeatureValidationError> => {
  const out = new Set<number>()
  for (const [name, level] of wanted) {
    const f = featureInfo(name)
    if (!allowedIn(f, context) && !(context === "C" && (f.contexts.includes("C-") || f.contexts.includes("C+")))) continue
    out.add(level === "required" ? f.evenBit : f.oddBit)
  }
  return validateOwn(out, context)
}

/**
 * What this project really implements, all as optional bits: what LDK and the other
 * implementations need to open channels with us (the first four), and the channel features of
 * the BOLT 2 state machine (`src/protocol/channel`): upfront shutdown scripts, anchors with
 * zero-fee HTLC transactions, any-segwit shutdown scripts, `channel_type`, SCID aliases,
 * zero-conf (accepted only from peers the node trusts) and `option_simple_close`; and
 * `option_attribution_data` (BOLT 9 bits 36/37, context IN9; BOLT 4 "Returning Errors", "Hold
 * times for successful payments"): the payment layer (src/actors/Payments.ts) puts
 * `attribution_data` with its hold time into every `update_fail_htlc` and `update_fulfill_htlc`
 * of an HTLC that came without a `path_key` (BOLT 2: "MUST initialize `attribution_data` and
 * include it"), transforms and updates what comes from downstream when it forwards, and as the
 * origin verifies it, blames the pair it names and scores hops on their hold times.
 */
export const OUR_FEATURES: ReadonlyArray<readonly [FeatureName, FeatureLevel]> = [
  ["option_data_loss_protect", "optional"],
  ["option_upfront_shutdown_script", "optional"],
  ["var_onion_optin", "optional"],
  ["option_static_remotekey", "optional"],
  ["payment_secret", "optional"],
  ["option_anchors", "optional"],
  ["option_shutdown_anysegwit", "optional"],
  ["option_channel_type", "optional"],
  ["option_scid_alias", "optional"],
  ["option_zeroconf", "optional"],
  ["option_simple_close", "optional"],
  ["option_attribution_data", "optional"]
]

const build = (context: FeatureContext): FeatureBits => {
  const r = buildFeatures(context, OUR_FEATURES)
  if (Result.isFailure(r)) throw new Error(`our ${context} features are invalid: ${r.failure._tag}`) // a bug in OUR_FEATURES
  return r.success
}

/** Our `init` features as bits: 1, 5, 9, 13, 15, 23, 27, 37, 45, 47, 51, 61. */
export const ourInitFeatureBits: FeatureBits = build("I")
/** Our `init` features as the wire bytes of the `features` field (0x2008a0200880a222). */
export const ourInitFeatures: Uint8Array = featuresToBytes(ourInitFeatureBits)
/** Our `node_announcement` features. */
export const ourNodeFeatures: FeatureBits = build("N")
/** Our BOLT 11 invoice features from `OUR_FEATURES` (var_onion_optin, payment_secret, option_attribution_data: 9, 15, 37). */
export const ourInvoiceFeatures: FeatureBits = build("9")

/**
 * The feature bits of the invoices the payment layer creates (BOLT 11 `9` field): var_onion_optin
 * and payment_secret as required (BOLT 11: the writer MUST set `payment_secret`, and readers that
 * do not support it must not pay), basic_mpp (we take multi-part payments) and
 * option_attribution_data (we add hold times to what we return) as optional: 8, 14, 17, 37.
 */
export const ourReceiveInvoiceFeatures: ReadonlyArray<number> = (() => {
  const r = buildFeatures("9", [
    ["var_onion_optin", "required"],
    ["payment_secret", "required"],
    ["basic_mpp", "optional"],
    ["option_attribution_data", "optional"]
  ])
  if (Result.isFailure(r)) throw new Error(`our invoice features are invalid: ${r.failure._tag}`) // a bug in the list above
  return [...r.success].sort((a, b) => a - b)
})()
