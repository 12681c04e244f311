/**
 * Group commit, as the durable store layers do it: writes queue up while a group is being
 * committed and the next group takes them all (up to `maxGroupWrites`), so many writers pay for
 * one fsync or one transaction. The committer settles each write's `done`; a group is never
 * interrupted half way, and writes still queued when the scope closes fail with `closed`.
 */
import { type Cause, Deferred, Effect, Queue, type Scope } from "effect"
import type { StoreError, StoreOp, StoreVersion, StoreWriteError } from "../../services/Store.ts"

/** A write waiting for its group. */
export interface PendingWrite {
  readonly ops: ReadonlyArray<StoreOp>
  readonly done: Deferred.Deferred<StoreVersion, StoreWriteError>
}

/** Starts the committer fiber in the current scope; answers the layer's `write`. */
export const startGroupCommit = (options: {
  readonly commitGroup: (group: ReadonlyArray<PendingWrite>) => Effect.Effect<void>
  readonly maxGroupWrites: number
  readonly closed: StoreError
}): Effect.Effect<(ops: ReadonlyArray<StoreOp>) => Effect.Effect<StoreVersion, StoreWriteError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<PendingWrite, Cause.Done>()
    const failLeftovers = Effect.gen(function*() {
      yield* Queue.end(queue)
      for (const w of yield* Queue.clear(queue)) yield* Deferred.fail(w.done, options.closed)
    })
    yield* Queue.takeBetween(queue, 1, options.maxGroupWrites).pipe(
      Effect.flatMap((group) => Effect.uninterruptible(options.commitGroup(group))),
      Effect.forever,
      Effect.onExit(() => failLeftovers),
      Effect.forkScoped
    )
    return (ops) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<StoreVersion, StoreWriteError>()
        const offered = yield* Queue.offer(queue, { ops, done })
        if (!offered) return yield* options.closed
        return yield* Deferred.await(done)
      })
  })
