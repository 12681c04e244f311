/**
 * `error` (17) and `warning` (1), BOLT 1 "The error and warning Messages". An all-zero
 * `channel_id` means "all channels" (error) or "not about a channel" (warning).
 */
import * as Field from "../codec/fields.ts"
import { defineMessage, type MessageType } from "../codec/message.ts"
import type { ChannelId } from "../units.ts"

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
export const ALL_CHANNELS = new Uint8Array(32) as ChannelId

export const isAllChannels = (id: ChannelId): boolean => id.every((b) => b === 0)

/** UTF-8 bytes of a text, for the `data` of an error or warning we send (ASCII preferred). */
const utf8 = new TextEncoder()

export const makeError = (text: string, channelId: ChannelId = ALL_CHANNELS): ErrorMessage =>
  ErrorMessage.make({ channelId, data: utf8.encode(text).subarray(0, 0xffff) })

export const makeWarning = (text: string, channelId: ChannelId = ALL_CHANNELS): Warning =>
  Warning.make({ channelId, data: utf8.encode(text).subarray(0, 0xffff) })

/**
 * `data` as text safe to log: BOLT 1 says not to print it verbatim unless it is printable
 * ASCII (32..126), so anything else is shown as hex.
 */
export const describeData = (data: Uint8Array): string => {
  let printable = true
  for (const b of data) if (b < 32 || b > 126) printable = false
  if (printable) return String.fromCharCode(...data.subarray(0, 4096))
  let hex = "0x"
  for (const b of data.subarray(0, 2048)) hex += b.toString(16).padStart(2, "0")
  return hex
}
