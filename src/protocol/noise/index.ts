/**
 * BOLT 8 (08-transport.md): the `Noise_XK_secp256k1_ChaChaPoly_SHA256` handshake and the
 * transport cipher, as pure functions over values. No I/O, no randomness, no key store: the
 * caller (the Peer actor) reads and writes bytes, draws ephemeral keys from `Entropy`, and asks
 * its signer for the one ECDH with the node's static secret, which never enters these values.
 *
 * Every function returns `Result.Result<A, E>` with a tagged error from `errors.ts`; none throws
 * on peer input, and a failure leaves the input state usable (states are immutable values).
 * BOLT 8 says to close the connection, silently, on any handshake or transport failure.
 *
 * Crypto is passed in: `NoiseCrypto = { secp, aead }`, a `Secp256k1`
 * (`protocol/crypto/secp256k1.ts`) and a `ChaChaPoly` (`protocol/crypto/aead.ts`). Use
 * `nodeChaChaPoly` from `layers/crypto/aead-node.ts` on Node (OpenSSL: about ten times faster
 * on large messages, while each call's fixed cost dominates short ones) and `nobleChaChaPoly`
 * elsewhere.
 *
 * ## Initiator (we dial `remoteStatic`)
 * ```ts
 * const one = initiatorActOne(crypto, { localStatic: ourNodeId, remoteStatic, ephemeralSecret })
 * write(one.act)                                        // 50 bytes
 * const two = initiatorActTwo(crypto, one.state, yield* readExactly(ACT_TWO_LENGTH))
 * const se = yield* signer.ecdh(two.point)              // ECDH(node secret, two.point), 32 bytes
 * const three = initiatorActThree(crypto, two, se)
 * write(three.act)                                      // 66 bytes
 * const session = three.session                         // remoteStatic, send, receive
 * ```
 *
 * ## Responder (someone dialled us)
 * ```ts
 * const start = responderStart(crypto, { localStatic: ourNodeId, ephemeralSecret })
 * const one = responderActOne(crypto, start, yield* readExactly(ACT_ONE_LENGTH))
 * const es = yield* signer.ecdh(one.point)              // ECDH(node secret, one.point)
 * const two = responderActTwo(crypto, one, es)          // checks act 1's MAC, builds act 2
 * write(two.act)                                        // 50 bytes
 * const session = responderActThree(crypto, two.state, yield* readExactly(ACT_THREE_LENGTH))
 * // session.remoteStatic is the initiator's node id, authenticated by act 3
 * ```
 * (each step above is a `Result`: unwrap it, and on failure close the connection.)
 * Act lengths are fixed (50, 50, 66), so a reader waits for exactly that many bytes; a wrong
 * length given to a step is `NoiseActLengthInvalid`.
 *
 * ## Transport: sending and framing a byte stream
 * `session.send` and `session.receive` are independent `CipherState` values (own key, chaining
 * key and nonce; keys rotate every 1000 nonces inside the steps), so a writer fiber and a reader
 * fiber can each own one.
 * ```ts
 * // sending: one packet per message (<= 65535 bytes, else NoiseMessageTooLong)
 * const out = encryptMessage(aead, send, message)       // { state, packet }
 * send = out.state; write(out.packet)
 *
 * // receiving: a stream is framed by the header, which announces the body's size
 * const pending = decryptHeader(aead, receive, yield* readExactly(HEADER_LENGTH))  // 18 bytes
 * const body = decryptBody(aead, pending, yield* readExactly(pending.bodyLength))  // length + 16
 * receive = body.state; handle(body.message)
 * ```
 * `pending.bodyLength` is at most 65551 (65535 + MAC), so a reader never buffers more than
 * `MAX_PACKET_LENGTH` bytes for one packet. `encryptMessageParts` is the zero-copy variant of
 * `encryptMessage` for transports that can write several chunks (worth it for large messages on
 * Node, where OpenSSL's output would otherwise be copied into one packet); `decryptPacket` opens
 * a whole packet held in one buffer.
 */
export * from "./errors.ts"
export * from "./handshake.ts"
export * from "./transport.ts"
export { hkdf2, PROLOGUE, PROTOCOL_NAME } from "./symmetric.ts"
