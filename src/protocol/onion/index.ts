/**
 * BOLT 4 onion routing as pure code.
 *
 * Modules:
 * - `sphinx`: the Sphinx packet with opaque payloads and a size parameter (1300 for payments,
 *   any for onion messages): `buildOnion`, `peelOnion` / `peelOnionBytes`, `deriveSessionKeys`.
 * - `payload`: the payment hop payload TLV stream (`amt_to_forward`, `outgoing_cltv_value`,
 *   `short_channel_id`, `payment_data`, `encrypted_recipient_data`, `current_path_key`,
 *   `payment_metadata`, `total_amount_msat`, custom records >= 65536) and the reader's checks.
 * - `paymentOnion`: build a payment onion from typed payloads bound to the payment hash;
 *   process an incoming HTLC's onion into Forward / Receive / BlindedForward / BlindedReceive,
 *   or an `OnionRejected` saying which failure to send back (malformed with the onion's hash,
 *   or an encrypted failure message).
 * - `failure`: every BOLT 4 failure code with its data, as a typed union with its codec.
 * - `failurePacket`: the erring node's return packet (padded to 256 bytes or more), each hop's
 *   wrapping, and the origin's decryption that attributes the failure to a hop.
 * - `attribution`: attribution data (hold times and truncated HMACs) for failures and successes.
 * - `blinding`: route blinding: `createBlindedPath`, `decryptBlindedHop`, `encrypted_data_tlv`,
 *   the `blinded_path` codec.
 * - `onionMessage`: onion messages (`onion_message`, variable-size packets, `onionmsg_tlv`).
 * - `keys`: key derivation (`rho`, `mu`, `um`, `pad`, `ammag`, `ammagext`, `blinded_node_id`)
 *   and the ChaCha20 stream.
 *
 * Conventions: elliptic curve work goes through a `Secp256k1` passed in; the node's own key is
 * used only through a `NodeEcdh` function (`ecdhWithSecret` adapts a raw key), so a signer can
 * keep it. Session keys are arguments (draw them from `Entropy`). Nothing here throws on bad
 * input: every decoder, processor and encoder of peer- or user-supplied values returns a
 * `Result` with a tagged error. Only the framing of the node's own failure messages
 * (`encodeFailureMessage`, `buildRawFailurePacket`) throws, for values no decoder produces.
 */
export * from "./keys.ts"
export * from "./sphinx.ts"
export * from "./payload.ts"
export * from "./paymentOnion.ts"
export * from "./failure.ts"
export * from "./failurePacket.ts"
export * from "./attribution.ts"
export * from "./blinding.ts"
export * from "./onionMessage.ts"
