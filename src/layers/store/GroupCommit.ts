/**
 * Group commit, as the durable store layers do it: writes queue up while a group is being
 * committed and the next group takes them all (up to `maxGroupWrites`), so many writers pay for
 * one fsync or one transaction. A group is never interrupted half way; the committer settles
 * each write's `done`; writes still queued when the scope closes, and writes after it closed,
 * fail with `closed`, and the close waits for the group in flight.
 *
 * Who commits: a write that finds no group in flight commits its own group on its own fiber at
 * once (a node's one persister writer always does: no hand-over to another fiber, no wake-up,
 * no extra scheduler turn per write). Writes that arrive meanwhile queue; when that group is
 * done, a committer fiber (in the store's scope) takes them, group after group, until none is
 * left, and the caller returns without waiting for them.
 */
import { Deferred, Effect, Exit, type Scope } from "effect"
import type { StoreError, StoreOp, StoreVersion, StoreWriteError } from "../../services/Store.ts"

/** A write waiting for its group. */
export interface PendingWrite {
  readonly ops: ReadonlyArray<StoreOp>
  readonly done: Deferred.Deferred<StoreVersion, StoreWriteError>
}

/** Sets up group commit in the current scope; answers the layer's `write`. */
export const startGroupCommit = (options: {
  readonly commitGroup: (group: ReadonlyArray<PendingWrite>) => Effect.Effect<void>
  readonly maxGroupWrites: number
  readonly closed: StoreError
}): Effect.Effect<(ops: ReadonlyArray<StoreOp>) => Effect.Effect<StoreVersion, StoreWriteError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const queued: Array<PendingWrite> = []
    /** A group is being committed (by a writer's fiber or the committer fiber). */
    let committing = false
    let closed = false
    /** The scope's close, waiting for the group in flight. */
    const closeWaiters: Array<Deferred.Deferred<void>> = []
    const failClosed = Exit.fail(options.closed)

    const stopped = (): void => {
      committing = false
      for (const d of closeWaiters.splice(0)) Deferred.doneUnsafe(d, Exit.void)
    }
    /** A group that died half way (a defect): its writes fail, and the store takes no more. */
    const died = (group: ReadonlyArray<PendingWrite>): void => {
      closed = true
      for (const w of group) Deferred.doneUnsafe(w.done, failClosed)
      for (const w of queued.splice(0)) Deferred.doneUnsafe(w.done, failClosed)
      stopped()
    }
    /** Commits one group: the writes queued (up to `maxGroupWrites`). */
    const commitOne: Effect.Effect<void> = Effect.suspend(() => {
      const group = queued.splice(0, options.maxGroupWrites)
      return Effect.onExit(options.commitGroup(group), (exit) => Effect.sync(() => Exit.isFailure(exit) && died(group)))
    })
    /** The committer fiber's work: groups until none is queued (interruptible between groups only). */
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      if (closed || queued.length === 0) {
        stopped()
        return Effect.void
      }
      return Effect.flatMap(Effect.uninterruptible(commitOne), () => drain)
    })
    /** After a writer's own group: what queued meanwhile goes to the committer fiber. */
    const handOver: Effect.Effect<void> = Effect.suspend(() => {
      if (closed || queued.length === 0) {
        stopped()
        return Effect.void
      }
      return Effect.asVoid(Effect.forkIn(Effect.onInterrupt(drain, () => Effect.sync(stopped)), scope))
    })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        for (const w of queued.splice(0)) Deferred.doneUnsafe(w.done, failClosed)
        if (!committing) return Effect.void
        const d = Deferred.makeUnsafe<void>()
        closeWaiters.push(d)
        return Deferred.await(d)
      })
    )

    // Queued and committed without a gap an interruption could fall into (a write queued with
    // `committing` set and no one committing would stall the store); only the wait for the
    // answer is interruptible (the write still lands, as one queued before the interruption).
    return (ops) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          if (closed) return Effect.fail(options.closed)
          const done = Deferred.makeUnsafe<StoreVersion, StoreWriteError>()
          queued.push({ ops, done })
          if (committing) return restore(Deferred.await(done))
          committing = true
          return Effect.andThen(Effect.andThen(commitOne, handOver), restore(Deferred.await(done)))
        })
      )
  })
