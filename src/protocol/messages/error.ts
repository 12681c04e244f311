/**
 * `error` (17) and `warning` (1), BOLT 1 "The error and warning Messages". An all-zero
 * `channel_id` means "all channels" (error) or "not about a channel" (warning).
 */
import { toHex } from "../bytes.ts"
import * as Field from "../codec/fields.ts"
import { defineMessage, MAX_MESSAGE_SIZE, type MessageType } from "../codec/message.ts"
import { ChannelId } from "../units.ts"

export const ErrorMessage = defineMessage({
  type: 17,
  name: "error",
  tag: "Error",
  fields: { channelId: Field.channelId, data: Field.u16Bytes }
})
export type ErrorMessage = MessageType<typeof ErrorMessage>

export const Warning = defineMessage({
  type: 1,
  name: "warning",
  tag: "Warning",
  fields: { channelId: Field.channelId, data: Field.u16Bytes }
})
export type Warning = MessageType<typeof Warning>

/** The all-zero channel id: the message concerns the connection, not one channel. */
export const ALL_CHANNELS: ChannelId = ChannelId(new Uint8Array(32))

export const isAllChannels = (id: ChannelId): boolean => id.every((b) => b === 0)

/**
 * The longest `data` that keeps an error or warning within a message (BOLT 1: 65535 bytes):
 * type (2), `channel_id` (32) and the `len` prefix (2) come first.
 */
export const MAX_ERROR_DATA_LENGTH = MAX_MESSAGE_SIZE - 2 - 32 - 2

/** UTF-8 bytes of a text, for the `data` of an error or warning we send (ASCII preferred). */
const utf8 = new TextEncoder()
const dataOf = (text: string): Uint8Array => {
  const bytes = utf8.encode(text)
  return bytes.length > MAX_ERROR_DATA_LENGTH ? bytes.slice(0, MAX_ERROR_DATA_LENGTH) : bytes
}

/** An `error` with `text` as its data, cut to `MAX_ERROR_DATA_LENGTH` bytes so it always encodes. */
export const makeError = (text: string, channelId: ChannelId = ALL_CHANNELS): ErrorMessage =>
  ErrorMessage.make({ channelId, data: dataOf(text) })

/** A `warning` with `text` as its data, cut to `MAX_ERROR_DATA_LENGTH` bytes so it always encodes. */
export const makeWarning = (text: string, channelId: ChannelId = ALL_CHANNELS): Warning =>
  Warning.make({ channelId, data: dataOf(text) })

/**
 * `data` as text safe to log: BOLT 1 says not to print it verbatim unless it is printable
 * ASCII (32..126), so anything else is shown as hex. Either form is cut to about 4096
 * characters (4096 bytes of text, or 2048 bytes as hex) so a peer cannot flood a log line.
 */
export const describeData = (data: Uint8Array): string => {
  let printable = true
  for (const b of data) if (b < 32 || b > 126) printable = false
  if (printable) return String.fromCharCode(...data.subarray(0, 4096))
  return `0x${toHex(data.subarray(0, 2048))}`
}
