/**
 * `ping` (18) and `pong` (19), BOLT 1 "The ping and pong Messages": keep-alive and
 * traffic padding. A ping asking for 65532 or more pong bytes must be ignored.
 */
import * as Field from "../codec/fields.ts"
import { defineMessage, type MessageType } from "../codec/message.ts"

export const Ping = defineMessage({
  type: 18,
  name: "ping",
  tag: "Ping",
  fields: { numPongBytes: Field.u16, ignored: Field.u16Bytes }
})
export type Ping = MessageType<typeof Ping>

export const Pong = defineMessage({
  type: 19,
  name: "pong",
  tag: "Pong",
  fields: { ignored: Field.u16Bytes }
})
export type Pong = MessageType<typeof Pong>

/** `num_pong_bytes` at or above this: the receiver MUST ignore the ping (BOLT 1). */
export const PING_IGNORE_THRESHOLD = 65532

/** A ping with zeroed padding (senders SHOULD set `ignored` to 0s). */
export const makePing = (numPongBytes: number, paddingBytes = 0): Ping =>
  Ping.make({ numPongBytes, ignored: new Uint8Array(paddingBytes) })

/** The pong a ping calls for, or undefined when the ping must be ignored. */
export const pongFor = (ping: Ping): Pong | undefined =>
  ping.numPongBytes >= PING_IGNORE_THRESHOLD ? undefined : Pong.make({ ignored: new Uint8Array(ping.numPongBytes) })
