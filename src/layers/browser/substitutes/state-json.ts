/**
 * Browser stand-in for `src/protocol/channel/state-json.ts`: the browser build
 * (`browser/build.ts`) resolves every import of that module to this one, as the package's
 * `browser` field does. Same exports, same JSON values: each encoding is its Schema's, which the
 * hand-written module equals by its contract (tests check both against the Schemas). Slower per
 * `Persist` than the hand-written one, and ~7 KB smaller: the browser build's size budget is
 * the reason. `satisfies typeof ...` keeps the two export lists equal.
 */
import { Schema } from "effect"
import { CommitmentsSchema, UpdateMessageSchema } from "../../../protocol/channel/commitments.ts"
import { SignerRequestSchema } from "../../../protocol/channel/io.ts"
import { toJsonObject, toJsonValue } from "../../../protocol/channel/json-value.ts"
import { ChannelParamsSchema } from "../../../protocol/channel/params.ts"
import { ChannelStateSchema } from "../../../protocol/channel/state.ts"
import type * as StateJson from "../../../protocol/channel/state-json.ts"

export { toJsonValue }

const params = Schema.encodeSync(ChannelParamsSchema)
const update = Schema.encodeSync(UpdateMessageSchema)
const commitments = Schema.encodeSync(CommitmentsSchema)
const request = Schema.encodeSync(SignerRequestSchema)
const state = Schema.encodeSync(ChannelStateSchema)

export const encodeChannelParamsJson: typeof StateJson.encodeChannelParamsJson = (p) => toJsonObject(params(p))
export const encodeUpdateMessageJson: typeof StateJson.encodeUpdateMessageJson = (m) => toJsonValue(update(m))
export const encodeCommitmentsJson: typeof StateJson.encodeCommitmentsJson = (c) => toJsonObject(commitments(c))
export const encodeSignerRequestJson: typeof StateJson.encodeSignerRequestJson = (r) => toJsonObject(request(r))
export const encodeChannelStateJson: typeof StateJson.encodeChannelStateJson = (s) => toJsonValue(state(s))

export const exportsMatch = {
  toJsonValue,
  encodeChannelParamsJson,
  encodeUpdateMessageJson,
  encodeCommitmentsJson,
  encodeSignerRequestJson,
  encodeChannelStateJson
} satisfies Omit<typeof StateJson, never>
