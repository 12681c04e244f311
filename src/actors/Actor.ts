/**
 * A generic actor: one fiber that owns its state and handles typed messages one at a time from
 * a bounded mailbox. It is the shell around the pure core: `Peer`, later `Channel` and
 * `Monitor`, are actors (architecture: "fibers with mailboxes").
 *
 * Guarantees, so no caller ever hangs:
 * - The mailbox is bounded: `tell` waits while it is full (backpressure), `tryTell` fails
 *   with `MailboxFull` instead.
 * - `ask` sends a message carrying a reply `Deferred` and waits for it. Every ask still pending
 *   when the actor ends (in the mailbox, being handled, or kept by the handler for later) fails:
 *   `ActorStopped` after a stop or a typed failure, `ActorCrashed` after a defect.
 * - The actor lives in the `Scope` it was made in: closing the scope stops it. `stop` stops it
 *   earlier. After it ended, `tell`/`ask` fail with `ActorStopped` at once, and so does a `tell`
 *   that was still waiting for room; messages left in the mailbox are dropped.
 * - A handler may fail with the actor's error type `E` to stop the actor with that reason
 *   (e.g. a Peer's disconnect reason); a defect (bug, thrown exception) stops it as
 *   `ActorCrashed`. `join` reports which.
 *
 * Handlers run interruptibly: stopping an actor blocked in a handler (e.g. on a slow write)
 * interrupts the handler, so a stop or a scope close never waits for the outside world.
 * A handler must not call its own actor's `stop` or `ask` (it would wait for itself): to stop
 * itself it fails with `E`.
 */
import { type Cause, Cause as C, Data, Deferred, Effect, Exit, Fiber, Queue, type Scope } from "effect"

/** The actor has stopped (or stopped before answering). */
export class ActorStopped extends Data.TaggedError("ActorStopped")<{ readonly actor: string }> {}

/** The actor died on a defect while handling a message. */
export class ActorCrashed extends Data.TaggedError("ActorCrashed")<{ readonly actor: string; readonly defect: unknown }> {}

/** `tryTell` found the mailbox full. */
export class MailboxFull extends Data.TaggedError("MailboxFull")<{ readonly actor: string }> {}

/** The reply slot of an `ask`: the handler completes it (succeed, or fail with `E`). */
export type Reply<A, E = never> = Deferred.Deferred<A, E | ActorStopped | ActorCrashed>

export interface Actor<M, E = never> {
  readonly name: string
  /** Queues `msg`, waiting while the mailbox is full. */
  readonly tell: (msg: M) => Effect.Effect<void, ActorStopped>
  /** Queues `msg` if there is room now. */
  readonly tryTell: (msg: M) => Effect.Effect<void, ActorStopped | MailboxFull>
  /** Sends the message built around a fresh reply slot and waits for the answer. */
  readonly ask: <A, E2 = never>(
    makeMessage: (reply: Reply<A, E2>) => M
  ) => Effect.Effect<A, E2 | ActorStopped | ActorCrashed>
  /** Stops the actor (interrupting the current handler) and waits until it has ended. Idempotent. */
  readonly stop: Effect.Effect<void>
  /** Waits for the end: succeeds after a stop, fails with `E` or `ActorCrashed`. */
  readonly join: Effect.Effect<void, E | ActorCrashed>
  /** Whether the actor has ended. */
  readonly isDone: Effect.Effect<boolean>
}

export interface ActorOptions<M, E, R> {
  readonly name: string
  /** Mailbox capacity (at least 1). */
  readonly capacity: number
  /** Handles one message. Failing with `E` stops the actor with that reason. */
  readonly handle: (msg: M) => Effect.Effect<void, E, R>
  /**
   * Runs once when the actor ends, whatever the reason, before pending asks are failed (so it
   * must not wait on them). A defect in it is logged; the actor still ends normally.
   */
  readonly onExit?: (exit: Exit.Exit<void, E | ActorCrashed>) => Effect.Effect<void, never, R>
}

/** Starts an actor in the current scope. */
export const make = <M, E = never, R = never>(
  options: ActorOptions<M, E, R>
): Effect.Effect<Actor<M, E>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const name = options.name
    const mailbox = yield* Queue.bounded<M, Cause.Done>(Math.max(1, options.capacity))
    const done = yield* Deferred.make<void, E | ActorCrashed>()
    const pending = new Set<(error: ActorStopped | ActorCrashed) => Effect.Effect<void>>()
    let ended = false

    const finish = (exit: Exit.Exit<never, E>) =>
      Effect.gen(function*() {
        ended = true
        // End, then drop what is queued: a `tell` still waiting for room fails with ActorStopped.
        yield* Queue.end(mailbox)
        yield* Queue.shutdown(mailbox)
        let result: Exit.Exit<void, E | ActorCrashed>
        if (Exit.isSuccess(exit) || C.hasInterruptsOnly(exit.cause)) {
          result = Exit.void
        } else {
          const error = C.findError(exit.cause)
          if (error._tag === "Success") {
            result = Exit.fail(error.success)
          } else {
            const defect = C.findDefect(exit.cause)
            result = Exit.fail(new ActorCrashed({ actor: name, defect: defect._tag === "Success" ? defect.success : C.pretty(exit.cause) }))
          }
        }
        // A defect in `onExit` must not leave `join`, `stop` or a pending ask waiting forever.
        if (options.onExit !== undefined) {
          yield* options.onExit(result).pipe(Effect.catchCause((cause) => Effect.logError(`actor ${name}: onExit failed`, cause)))
        }
        const reason = Exit.isFailure(result) ? C.findError(result.cause) : undefined
        const stopError: ActorStopped | ActorCrashed =
          reason !== undefined && reason._tag === "Success" && reason.success instanceof ActorCrashed
            ? reason.success
            : new ActorStopped({ actor: name })
        for (const failPending of [...pending]) yield* failPending(stopError)
        pending.clear()
        yield* Deferred.done(done, result)
      })

    const loop: Effect.Effect<never, E, R> = Effect.forever(
      Effect.flatMap(Queue.take(mailbox), options.handle).pipe(
        // The mailbox is only ended by `finish`, after the loop: Done cannot happen here.
        Effect.catchTag("Done", () => Effect.interrupt)
      )
    )

    const fiber = yield* loop.pipe(
      Effect.onExit((exit) => finish(exit)),
      Effect.forkScoped
    )

    const stopped = () => new ActorStopped({ actor: name })
    const tell = (msg: M): Effect.Effect<void, ActorStopped> =>
      Effect.suspend(() => (ended ? Effect.fail(stopped()) : Queue.offer(mailbox, msg))).pipe(
        Effect.flatMap((accepted) => (accepted ? Effect.void : Effect.fail(stopped())))
      )
    const tryTell = (msg: M): Effect.Effect<void, ActorStopped | MailboxFull> =>
      Effect.suspend((): Effect.Effect<void, ActorStopped | MailboxFull> => {
        if (ended) return Effect.fail(stopped())
        if (Queue.offerUnsafe(mailbox, msg)) return Effect.void
        return ended ? Effect.fail(stopped()) : Effect.fail(new MailboxFull({ actor: name }))
      })
    const ask = <A, E2 = never>(makeMessage: (reply: Reply<A, E2>) => M): Effect.Effect<A, E2 | ActorStopped | ActorCrashed> =>
      Effect.gen(function*() {
        const reply = yield* Deferred.make<A, E2 | ActorStopped | ActorCrashed>()
        const failPending = (error: ActorStopped | ActorCrashed) => Effect.asVoid(Deferred.fail(reply, error))
        const msg = makeMessage(reply) // before registering: a throwing builder leaves nothing behind
        pending.add(failPending)
        return yield* tell(msg).pipe(
          Effect.andThen(Deferred.await(reply)),
          Effect.ensuring(Effect.sync(() => pending.delete(failPending)))
        )
      })

    const actor: Actor<M, E> = {
      name,
      tell,
      tryTell,
      ask,
      stop: Fiber.interrupt(fiber).pipe(Effect.andThen(Effect.exit(Deferred.await(done))), Effect.asVoid),
      join: Deferred.await(done),
      isDone: Effect.sync(() => ended)
    }
    return actor
  })
