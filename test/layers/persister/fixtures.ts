/** Channels with valid monitor update logs, for persister tests. */
import { Schema } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { toHex } from "../../../src/protocol/bytes.ts"
import { ChannelIdSchema } from "../../../src/protocol/codec/fields.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"
import { LogBuilder, makeParams } from "../../protocol/monitor/fixtures.ts"

export const channelIdOf = (i: number): ChannelId =>
  Schema.decodeUnknownSync(ChannelIdSchema)(toHex(sha256(new TextEncoder().encode(`persister-channel/${i}`))))

/** A channel's log of `length` updates (Opened first), as a real channel would emit it. */
export const logOf = (i: number, length: number): ReadonlyArray<MonitorUpdate> => {
  const b = new LogBuilder(makeParams({ channel: i }))
  let step = 0
  while (b.log.length < length) {
    switch (step % 4) {
      case 0:
        b.signCounterparty([{ id: step, direction: "offered", amountMsat: 1000 + step, preimageTag: step % 5, cltvExpiry: 500 + step }])
        break
      case 1:
        b.holder([{ id: step, direction: "received", amountMsat: 1000 + step, preimageTag: step % 5, cltvExpiry: 500 + step }])
        break
      case 2:
        b.revoke()
        break
      case 3:
        b.preimage(step % 5)
        break
    }
    step += 1
  }
  return b.log
}

/** The channel state written with the update `updateId` (a stand-in for the channel's JSON). */
export const stateAt = (i: number, updateId: bigint, extra = 0): Schema.Json => ({ channel: i, at: String(updateId), extra })
