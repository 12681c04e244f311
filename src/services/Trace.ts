/**
 * Trace: where every input an actor of a node receives (peer bytes, commands, chain facts,
 * timer ticks, persistence completions, random bytes drawn, clock readings, mailbox
 * deliveries) and every output it produces (bytes written, persisted writes, events,
 * broadcasts) can be written down, in the order they happened, as Schema-encoded JSON
 * records. A recorded trace can be replayed (`src/trace/`): a node built with the replay
 * layers (`src/layers/trace/`) is fed the recorded inputs in the recorded order and must
 * produce the recorded outputs, byte for byte.
 *
 * Off by default and free when off: `Trace` is a `Context.Reference` whose default is a no-op
 * with `enabled: false`; callers check `enabled` before encoding anything, so a node without a
 * trace layer pays one boolean test per input.
 *
 * One `TraceShape` is bound to one node (`node`); several nodes of a simulation share one
 * `TraceSink` (`forNode`), which gives every record the next sequence number of that sink, so
 * a whole multi-node run is one totally ordered trace.
 */
import { Context, Schema } from "effect"

/**
 * What a record is. Inputs (what the node is fed; replay serves them from the trace):
 * - `start`: the node's recipe (first record of a node; replay builds the node from it).
 * - `command`: an API call of the application (open a channel, add an HTLC, a chain fact...).
 * - `listen`: the address a listener was bound to.
 * - `connect` / `accept`: a connection opened by us / by the remote (`conn` is its number).
 * - `read`: bytes read from a connection; `read-end`: the connection ended for reading.
 * - `timer`: a `Clock.sleep` of the node ended (ticks, timeouts).
 * - `chain`: a `ChainSource` event (block connected or disconnected).
 * - `completion`: a `MonitorPersister` completion of a write that was `InProgress`.
 * - `entropy`: random bytes the node drew. `clock`: a clock reading.
 * - `mailbox`: a message an actor took from its mailbox (the delivery order inside the node).
 * Outputs (what replay checks):
 * - `write`: bytes written to a connection; `close`: we closed a connection.
 * - `persist`: a write given to the `MonitorPersister` (updates and state) and its status.
 * - `event`: an event the node published; `reply`: a command's answer; `broadcast`: a
 *   transaction handed to the chain.
 */
export const TraceKind = Schema.Literals([
  "start",
  "command",
  "listen",
  "connect",
  "accept",
  "read",
  "read-end",
  "timer",
  "chain",
  "completion",
  "entropy",
  "clock",
  "mailbox",
  "write",
  "close",
  "persist",
  "event",
  "reply",
  "broadcast"
])
export type TraceKind = typeof TraceKind.Type

/** Kinds replay checks against what the replayed node produces (the rest it feeds). */
export const outputKinds: ReadonlySet<TraceKind> = new Set<TraceKind>(["write", "close", "persist", "event", "reply", "broadcast"])

/** One line of a trace. `seq` counts from 0 over the whole trace (all nodes of one sink). */
export const TraceRecord = Schema.Struct({
  node: Schema.String,
  actor: Schema.String,
  seq: Schema.Number,
  kind: TraceKind,
  data: Schema.Json
})
export type TraceRecord = typeof TraceRecord.Type

/** Where records go: a memory array, a JSON-lines file... (`src/layers/trace/`). */
export interface TraceSink {
  /** Appends a record, giving it the next sequence number (returned). Synchronous: ordering is the call order. */
  readonly append: (node: string, actor: string, kind: TraceKind, data: Schema.Json) => number
}

export interface TraceShape {
  /** False for the default no-op trace: callers skip building `data` altogether. */
  readonly enabled: boolean
  /** The node the records are about. */
  readonly node: string
  /**
   * Writes one record about `actor` of this node (synchronous, so records keep the order of
   * the calls). `data` must already be JSON (encode it with its Schema first).
   */
  readonly emit: (actor: string, kind: TraceKind, data: Schema.Json) => void
}

/** The default: records nothing. */
export const traceOff: TraceShape = { enabled: false, node: "", emit: () => {} }

/** The trace of the current node (off unless a layer of `src/layers/trace/` provides one). */
export const Trace = Context.Reference<TraceShape>("effect-lightning/Trace", { defaultValue: () => traceOff })

/** A node's trace writing into `sink`. */
export const forNode = (sink: TraceSink, node: string): TraceShape => ({
  enabled: true,
  node,
  emit: (actor, kind, data) => void sink.append(node, actor, kind, data)
})

const encodeRecordJson = Schema.encodeSync(Schema.fromJsonString(TraceRecord))
const decodeRecordJson = Schema.decodeUnknownSync(Schema.fromJsonString(TraceRecord))

/** One record as one JSON line (no newline): the JSON-lines file format. */
export const encodeTraceLine = (record: TraceRecord): string => encodeRecordJson(record)

/** Parses one JSON line; throws a `SchemaError` for a malformed line (callers wrap it). */
export const decodeTraceLine = (line: string): TraceRecord => decodeRecordJson(line)

const MAX_DEPTH = 6
const MAX_ITEMS = 64
const hexDigits = "0123456789abcdef"

const hexOf = (bytes: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0
    s += (hexDigits[b >> 4] ?? "") + (hexDigits[b & 15] ?? "")
  }
  return s
}

/**
 * A best-effort JSON picture of any value, for records whose value has no Schema at hand (an
 * actor's mailbox message): plain objects and tagged classes field by field (functions left
 * out), bytes as `hex:<hex>`, bigints as `<n>n`, other class instances (reply slots, sessions'
 * handles) by their class name, depth and width bounded. Deterministic: the same value gives the
 * same JSON.
 */
export const describeValue = (value: unknown, depth = 0): Schema.Json => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) ? value : String(value)
    case "bigint":
      return `${value}n`
    case "undefined":
      return null
    case "function":
    case "symbol":
      return null
    case "object":
      break
  }
  if (value === null) return null
  if (value instanceof Uint8Array) return `hex:${hexOf(value)}`
  if (depth >= MAX_DEPTH) return "<deep>"
  if (Array.isArray(value)) {
    const out: Array<Schema.Json> = []
    for (let i = 0; i < Math.min(value.length, MAX_ITEMS); i++) out.push(describeValue(value[i], depth + 1))
    if (value.length > MAX_ITEMS) out.push(`<+${value.length - MAX_ITEMS}>`)
    return out
  }
  const proto: unknown = Object.getPrototypeOf(value)
  const plain = proto === Object.prototype || proto === null
  if (!plain && !Object.hasOwn(value, "_tag")) {
    const ctor: unknown = proto !== null && typeof proto === "object" ? Object.getOwnPropertyDescriptor(proto, "constructor")?.value : undefined
    return `<${typeof ctor === "function" ? ctor.name : "object"}>`
  }
  const out: Record<string, Schema.Json> = {}
  let n = 0
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "function") continue
    if (n++ >= MAX_ITEMS) break
    out[k] = describeValue(v, depth + 1)
  }
  return out
}
