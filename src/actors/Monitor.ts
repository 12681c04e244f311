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
    }
  }
}

/** Makes a monitor, as an effect (kept for callers written against the actor form). */
export const makeMonitor = (options: MonitorOptions): Effect.Effect<MonitorHandle> => Effect.sync(() => makeMonitorSync(options))
