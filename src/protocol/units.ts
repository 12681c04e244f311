/**
 * Branded amounts and identifiers. An msat is never a sat: the brand makes the compiler say so.
 * Amounts are bigint (u64 on the wire); the brand carries no runtime cost. Identifiers are
 * made by validating constructors (`PublicKey(bytes)`, `ChannelId(bytes)`...: `checkedBrand`,
 * Effect's `Brand.make` without its cost on valid values, which throws a `BrandError` on a value
 * of the wrong shape, a bug of the caller; `.result(bytes)` gives a `Result` for input from outside).
 */
import { Brand, Option, Result } from "effect"

/**
 * `Brand.make(filter)` with the filter run directly on each call: a valid value is tagged with no
 * other work; an invalid one goes through `Brand.make`'s own constructor, so its `BrandError`
 * (issue and message) is Effect's. `Brand.make` runs its filter through Effect's schema checks
 * (`SchemaAST.runChecks`: an issue list, a `Result` and closures per call), which on the channel
 * path (keys derived, signatures and txids branded, several per message) cost ~1.5% of a round
 * trip for a length and a prefix compared. `filter` must be pure (a refused value runs it twice).
 * Unlike `Brand.make`'s, this constructor carries no `checks`: `Brand.all` would take it for a
 * nominal one (nothing here combines brands).
 */
export const checkedBrand = <B extends Brand.Brand<Extract<Brand.Brand.Keys<B>, string>>>(
  filter: (unbranded: Brand.Brand.Unbranded<B>) => true | string
): Brand.Constructor<B> => {
  const checked = Brand.make<B>(filter)
  const tag = Brand.nominal<B>()
  return Object.assign((unbranded: Brand.Brand.Unbranded<B>): B => (filter(unbranded) === true ? tag(unbranded) : checked(unbranded)), {
    option: (unbranded: Brand.Brand.Unbranded<B>): Option.Option<B> =>
      filter(unbranded) === true ? Option.some(tag(unbranded)) : checked.option(unbranded),
    result: (unbranded: Brand.Brand.Unbranded<B>): Result.Result<B, Brand.BrandError> =>
      filter(unbranded) === true ? Result.succeed(tag(unbranded)) : checked.result(unbranded),
    is: (unbranded: Brand.Brand.Unbranded<B>): unbranded is Brand.Brand.Unbranded<B> & B => filter(unbranded) === true
  })
}

/** Millisatoshis (BOLT 2/4/11 amounts). */
export type Msat = bigint & Brand.Brand<"Msat">
/** Satoshis (BOLT 3 on-chain amounts). */
export type Sat = bigint & Brand.Brand<"Sat">

/** Tags a bigint as msat (no check: amounts pass through arithmetic; the wire codecs check u64). */
export const msat: (value: bigint) => Msat = Brand.nominal<Msat>()
/** Tags a bigint as sat (no check, as `msat`). */
export const sat: (value: bigint) => Sat = Brand.nominal<Sat>()
export const satToMsat = (value: Sat): Msat => msat(value * 1000n)
/** Rounds down, as BOLT 3 does when an msat balance becomes an output. */
export const msatToSat = (value: Msat): Sat => sat(value / 1000n)

/**
 * A 33-byte compressed secp256k1 public key (SEC 1 prefix 0x02 or 0x03): node ids (BOLT 1/8)
 * and the BOLT 3 keys alike. The constructor checks the length and the prefix; whether the
 * point is on the curve is checked where keys arrive from a peer (`keys/parsePublicKey`).
 */
export type PublicKey = Uint8Array & Brand.Brand<"PublicKey">
export const PublicKey = checkedBrand<PublicKey>(
  (b) => (b.length === 33 && (b[0] === 2 || b[0] === 3)) || `expected a 33-byte compressed point, got ${b.length} bytes`
)
/** A node is identified by its public key (BOLT 1/8): one brand, `PublicKey`. */
export type NodeId = PublicKey
export const NodeId = PublicKey
/** A 32-byte channel id (BOLT 2). */
export type ChannelId = Uint8Array & Brand.Brand<"ChannelId">
export const ChannelId = checkedBrand<ChannelId>((b) => b.length === 32 || `a channel id is 32 bytes, got ${b.length}`)
