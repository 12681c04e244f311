/**
 * The `Monitor`: one per channel, separate from the `Channel` actor (ARCHITECTURE.md, "The
 * actors"). It is fed ONLY `MonitorUpdate` values and holds the `MonitorState` they build
 * (`src/protocol/monitor`: `open`, `apply`), so it can run anywhere the updates can be shipped
 * (another process, a watchtower): nothing else reaches it.
 *
 * It has no fiber and no mailbox of its own: an update is applied when it is handed over, on the
 * caller's fiber (the `ChannelManager` hands a channel's updates over in persist order, from that
 * channel's actor), so an idle channel's monitor costs its state and nothing else, and an update
 * costs its `apply` and no scheduling.
 *
 * Guarantees:
 * - Updates are applied in the order they are handed over; an update that does not apply (out of
 *   order, a secret that does not fit the shachain, a commitment number going back...) is refused
 *   with its typed `MonitorError` and the state is unchanged. `applyNow` returns that error to the
 *   caller (the manager logs it).
 * - `state` serves the current state (undefined until `Opened`).
 * - It starts empty (a new channel) or from a state (restored: `replay` of the stored log).
 *
 * Chain reactions (BOLT 5) are not here: `MonitorChain` (./MonitorChain.ts) reads these states
 * (through the manager) and enforces them on chain with the pure `protocol/monitor/onchain.ts`.
 */
import { Effect, Result } from "effect"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import { apply, type MonitorError, replay } from "../protocol/monitor/apply.ts"
import type { MonitorState } from "../protocol/monitor/state.ts"
import type { MonitorUpdate } from "../protocol/monitor/update.ts"

export interface MonitorHandle {
  readonly name: string
  /** The current state (undefined before `Opened`). */
  readonly state: Effect.Effect<MonitorState | undefined>
  /** Applies an update now (no effect to run: the manager's persist path); returns the refusal, or undefined when applied. */
  readonly applyNow: (update: MonitorUpdate) => MonitorError | undefined
  /**
   * What applying `updates` in order to the current state gives, each as `applyNow` would (a
   * refused one leaves the state as it was), without handing them over: `commit` does. The
   * manager's persist path computes it before a write (a persister compacting its log may take
   * the state as its snapshot: `WriteNow`'s `monitorAfter`) and commits it after.
   */
  readonly preview: (updates: ReadonlyArray<MonitorUpdate>) => MonitorPreview
  /**
   * Hands a preview's updates over: its state is kept when the preview was made from the current
   * state (always, on the manager's path: nothing else applies updates in between); otherwise its
   * updates are applied again. Returns the refusals, as `applyNow` would give them, in order.
   */
  readonly commit: (preview: MonitorPreview) => ReadonlyArray<Refusal> | undefined
}

/** An update a monitor refused, and why. */
export interface Refusal {
  readonly update: MonitorUpdate
  readonly error: MonitorError
}

/** A monitor's state after some updates, not handed over yet (`MonitorHandle.preview`). */
export interface MonitorPreview {
  readonly updates: ReadonlyArray<MonitorUpdate>
  /** The state the updates were applied to. */
  readonly from: MonitorState | undefined
  /** The state after every update that applied. */
  readonly state: MonitorState | undefined
  /** The refused updates, in order (undefined: none). */
  readonly refusals: ReadonlyArray<Refusal> | undefined
}

export interface MonitorOptions {
  readonly name: string
  /** Derives per-commitment points of revealed secrets (`apply`). */
  readonly secp: Secp256k1
  /** A restored state; absent for a new channel (the first update must be `Opened`). */
  readonly state?: MonitorState
}

/** Applies one update to an optional state: before `Opened` only `Opened` applies (`MonitorNotOpened`). Pure. */
export const applyUpdate = (
  secp: Secp256k1,
  state: MonitorState | undefined,
  update: MonitorUpdate
): Result.Result<MonitorState, MonitorError> => (state === undefined ? replay(secp, [update]) : apply(secp, state, update))

/** `updates` applied in order to `from`, each refused one skipped (the state stays as it was): what `applyNow` one by one gives. Pure. */
export const applyEach = (secp: Secp256k1, from: MonitorState | undefined, updates: ReadonlyArray<MonitorUpdate>): MonitorPreview => {
  let state = from
  let refusals: Array<Refusal> | undefined
  for (const update of updates) {
    const result = applyUpdate(secp, state, update)
    if (Result.isFailure(result)) (refusals ??= []).push({ update, error: result.failure })
    else state = result.success
  }
  return { updates, from, state, refusals }
}

/** Makes a monitor (no fiber: see the module comment). */
export const makeMonitorSync = (options: MonitorOptions): MonitorHandle => {
  let state = options.state
  return {
    name: options.name,
    state: Effect.sync(() => state),
    applyNow: (update) => {
      const result = applyUpdate(options.secp, state, update)
      if (Result.isFailure(result)) return result.failure
      state = result.success
      return undefined
    },
    preview: (updates) => applyEach(options.secp, state, updates),
    commit: (preview) => {
      const applied = preview.from === state ? preview : applyEach(options.secp, state, preview.updates)
      state = applied.state
      return applied.refusals
    }
  }
}

/** Makes a monitor, as an effect (kept for callers written against the actor form). */
export const makeMonitor = (options: MonitorOptions): Effect.Effect<MonitorHandle> => Effect.sync(() => makeMonitorSync(options))
