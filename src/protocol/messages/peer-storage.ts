/**
 * `peer_storage` (7) and `peer_storage_retrieval` (9), BOLT 1 "Peer Storage": an opaque,
 * sender-encrypted blob of at most 65531 bytes. Declared so the codec knows them; this
 * project does not advertise `option_provide_storage`.
 */
import * as Field from "../codec/fields.ts"
import { defineMessage, type MessageType } from "../codec/message.ts"

export const PeerStorage = defineMessage({
  type: 7,
  name: "peer_storage",
  tag: "PeerStorage",
  fields: { blob: Field.u16Bytes }
})
export type PeerStorage = MessageType<typeof PeerStorage>

export const PeerStorageRetrieval = defineMessage({
  type: 9,
  name: "peer_storage_retrieval",
  tag: "PeerStorageRetrieval",
  fields: { blob: Field.u16Bytes }
})
export type PeerStorageRetrieval = MessageType<typeof PeerStorageRetrieval>

/** BOLT 1: a `blob` is at most 65531 bytes so the message fits. */
export const MAX_PEER_STORAGE_BLOB = 65531
