/**
 * BOLT 11 invoices.
 *
 * - `decodeInvoice(str, secp)` -> `Result<Invoice, InvoiceError>`: bech32 without the 90-char
 *   limit, every tagged field, amount multipliers, signature check (`n` field) or public-key
 *   recovery, unknown required features rejected, fields a reader must skip kept as `ignored`.
 * - `makeInvoice(params)` -> `Result<UnsignedInvoice, InvalidField>`; `signingHash(unsigned)`; `encodeInvoice(unsigned,
 *   signature, recovery)` or `signAndEncode(unsigned, sign)` with a signer that holds the key;
 *   `prepareSigning(unsigned)`: the hash and an encoder over one computation of the data words.
 * - A decoded invoice re-encodes to the same string: `encodeInvoice(inv, inv.signature, inv.recovery)`.
 */
export * from "./errors.ts"
export * from "./hrp.ts"
export * from "./fields.ts"
export * from "./fallback.ts"
export * from "./invoice.ts"
