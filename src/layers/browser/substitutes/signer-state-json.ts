/**
 * Browser stand-in for `src/layers/signer/signer-state-json.ts` (as `state-json.ts`'s): the
 * signer's policy state encoded by its Schema, the same JSON value the hand-written module
 * gives (tests check both), for the browser build's size budget.
 */
import { Schema } from "effect"
import { toJsonObject } from "../../../protocol/channel/json-value.ts"
import { SignerChannelStateSchema } from "../../../services/ChannelSigner.ts"
import type * as SignerStateJson from "../../signer/signer-state-json.ts"

const encode = Schema.encodeSync(SignerChannelStateSchema)

export const encodeSignerChannelStateJson: typeof SignerStateJson.encodeSignerChannelStateJson = (s) => toJsonObject(encode(s))

export const exportsMatch = { encodeSignerChannelStateJson } satisfies Omit<typeof SignerStateJson, never>
