/**
 * The `Monitor` actor: one per channel, separate from the `Channel` actor (ARCHITECTURE.md,
 * "The actors"). It is fed ONLY `MonitorUpdate` values and holds the `MonitorState` they build
 * (`src/protocol/monitor`: `open`, `apply`), so it can run anywhere the updates can be shipped
 * (another process, a watchtower): nothing else reaches it.
 *
 * Guarantees:
 * - Updates are applied in mailbox order; an update that does not apply (out of order, a secret
 *   that does not fit the shachain, a commitment number going back...) is refused with its typed
 *   `MonitorError` and the state is unchanged. `update` reports that error to the caller; `tell`
 *   (fire and forget, e.g. from the persister's path) logs it.
 * - `state` serves the current state (undefined until `Opened`).
 * - It starts empty (a new channel) or from a state (restored: `replay` of the stored log).
 *
 * Chain reactions (BOLT 5) are a later issue: this actor stores, replays and serves.
 */
import { Deferred, Effect, Result, type Scope } from "effect"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import { apply, type MonitorError, replay } from "../protocol/monitor/apply.ts"
import type { MonitorState } from "../protocol/monitor/state.ts"
import type { MonitorUpdate } from "../protocol/monitor/update.ts"
import * as Actor from "./Actor.ts"

/** One mailbox entry: an update (with an optional reply slot), or a request for the state. */
export type MonitorEnvelope =
  | { readonly _tag: "Update"; readonly update: MonitorUpdate; readonly reply?: Actor.Reply<void, MonitorError> }
  | { readonly _tag: "State"; readonly reply: Actor.Reply<MonitorState | undefined> }

export interface MonitorHandle {
  readonly actor: Actor.Actor<MonitorEnvelope>
  /** Queues an update; a refusal is logged. */
  readonly tell: (update: MonitorUpdate) => Effect.Effect<void, Actor.ActorStopped>
  /** Applies an update and reports a refusal. */
  readonly update: (update: MonitorUpdate) => Effect.Effect<void, MonitorError | Actor.ActorStopped | Actor.ActorCrashed>
  /** The current state (undefined before `Opened`). */
  readonly state: Effect.Effect<MonitorState | undefined, Actor.ActorStopped | Actor.ActorCrashed>
}

export interface MonitorOptions {
  readonly name: string
  /** Derives per-commitment points of revealed secrets (`apply`). */
  readonly secp: Secp256k1
  /** A restored state; absent for a new channel (the first update must be `Opened`). */
  readonly state?: MonitorState
  /** Mailbox capacity (default 1024). */
  readonly capacity?: number
}

/** Applies one update to an optional state: before `Opened` only `Opened` applies (`MonitorNotOpened`). Pure. */
export const applyUpdate = (
  secp: Secp256k1,
  state: MonitorState | undefined,
  update: MonitorUpdate
): Result.Result<MonitorState, MonitorError> => (state === undefined ? replay(secp, [update]) : apply(secp, state, update))

/** Starts a monitor actor in the current scope. */
export const makeMonitor = (options: MonitorOptions): Effect.Effect<MonitorHandle, never, Scope.Scope> =>
  Effect.gen(function*() {
    let state = options.state
    const handle = (msg: MonitorEnvelope): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (msg._tag === "State") {
          yield* Deferred.succeed(msg.reply, state)
          return
        }
        const result = applyUpdate(options.secp, state, msg.update)
        if (Result.isSuccess(result)) {
          state = result.success
          if (msg.reply !== undefined) yield* Deferred.succeed(msg.reply, undefined)
          return
        }
        if (msg.reply !== undefined) yield* Deferred.fail(msg.reply, result.failure)
        else yield* Effect.logError(`${options.name}: update ${msg.update.updateId} (${msg.update._tag}) refused: ${result.failure._tag}`)
      })
    const actor = yield* Actor.make<MonitorEnvelope>({ name: options.name, capacity: options.capacity ?? 1024, handle })
    return {
      actor,
      tell: (update) => actor.tell({ _tag: "Update", update }),
      update: (update) => actor.ask<void, MonitorError>((reply) => ({ _tag: "Update", update, reply })),
      state: actor.ask<MonitorState | undefined>((reply) => ({ _tag: "State", reply }))
    }
  })
