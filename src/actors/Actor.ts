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
 *
 * Cost: an idle actor has no fiber. A message put in an empty mailbox starts the handling of the
 * mailbox, which goes on until it is empty: in a plain loop while each handler's effect is a
 * success already (it did its work when called), in a fiber (with the context the actor was made
 * in) from the first handler's effect that must run, which ends when the mailbox is empty. So
 * thousands of idle actors (one per channel) cost their mailbox array and a few closures, a burst
 * of messages costs at most one fiber start, not one wake-up per message, and a burst whose
 * handlers are all done when called (a channel whose sends, signatures and writes are done at
 * once) none.
 *
 * Tracing: with a `Trace` in the context the actor was made in, each message is recorded
 * (kind `mailbox`, the actor's name) as the handler takes it, so a trace holds the order in
 * which every actor of the node saw its inputs. Without one (the default) nothing is encoded.
 * A handler must not call its own actor's `stop` or `ask` (it would wait for itself): to stop
 * itself it fails with `E`.
 */
import { Cause as C, Context, Data, Deferred, Effect, Exit, Fiber, type Schema, Scope } from "effect"
import { describeValue, Trace } from "../services/Trace.ts"

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
  /**
   * `tell` with no effect when none is needed: queues `msg` at once if there is room (and no `tell`
   * waits for room) and returns undefined when the actor is handling its mailbox (it takes `msg`
   * after what is queued), or when it was idle and a fiber runs (the caller's: the actor's start is
   * scheduled at once, as running the start would). Otherwise returns the effect that completes the
   * `tell`: the actor's start (`msg` is queued already; no fiber ran), the wait for room, or the
   * `ActorStopped` failure. The caller runs it, in the fiber that called, before anything else it
   * would queue.
   */
  readonly offer: (msg: M) => Effect.Effect<void, ActorStopped> | undefined
  /** `offer` for a caller that ignores `ActorStopped` (the message is dropped): no failure to catch when it starts the actor. */
  readonly post: (msg: M) => Effect.Effect<void> | undefined
  /**
   * `post` with no effect and, for an idle actor, no scheduler task: the mailbox is handled at once
   * on the caller's stack (up to its first suspension, in the fiber made then, before `postSync`
   * returns), for a caller that has nothing more to queue before the actor runs: a fiber (the
   * handling fiber gets its context as from a scheduled start) or no fiber at all (a peer layer
   * handing over a message as it arrives: the actor's own context). True when done (queued behind
   * the running handling, handled, or dropped: the actor ended); false when nothing was done (the
   * mailbox is full or a `tell` waits for room: `post` it then).
   */
  readonly postSync: (msg: M) => boolean
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
  /** Messages waiting in the mailbox now (not counting the one being handled). */
  readonly waiting: () => number
  /**
   * For the actor's own handler: queues `msg` behind the mailbox at once, with no effect to run
   * (the handler's fiber takes it after what is queued). False when it is not queued: the mailbox
   * is full, a `tell` waits for room, the actor ended, or no handler is running (then use `tell`).
   */
  readonly offerFromHandler: (msg: M) => boolean
  /**
   * Whether the actor is idle now: running, no message being handled and none waiting. What it
   * would answer to a read-only `ask` now is then what it holds (nothing is queued before it).
   */
  readonly idle: () => boolean
  /** Asks registered now (an answered one leaves when the mailbox next empties, or at the next prune): for tests of the bound. */
  readonly pendingAsks: () => number
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
  /**
   * How a message is written into the node's `Trace` (kind `mailbox`, when tracing is on):
   * its Schema's JSON. Default: `describeValue` (a generic picture, reply slots by name).
   */
  readonly traceEncode?: (msg: M) => Schema.Json
}

/**
 * Whether `caller` holds every service of `own` (an actor's context): each key of `own` mapped to
 * the same service, but for the `Scope`, which only has to be there (the actor's start provides
 * its own). Then running with `caller`, its `Scope` replaced, is running with `own` merged over
 * it: the same services.
 */
const holdsAll = <S>(caller: Context.Context<never>, own: Context.Context<S>): caller is Context.Context<S> => {
  const theirs = caller.mapUnsafe
  const ours = own.mapUnsafe
  // Keys, then lookups: no [key, value] pair made per entry.
  for (const key of ours.keys()) {
    if (key === Scope.Scope.key) {
      if (!theirs.has(key)) return false
      continue
    }
    const service: unknown = ours.get(key)
    if (theirs.get(key) !== service || (service === undefined && !theirs.has(key))) return false
  }
  return true
}

/** An ask waiting for its answer, as the actor's end fails it. */
interface PendingAsk {
  readonly answered: () => boolean
  readonly fail: (error: ActorStopped | ActorCrashed) => void
}

/** A `PendingAsk` as one object (its methods on the prototype: no two closures and their context per ask). */
class PendingReply<A, E2> implements PendingAsk {
  private readonly reply: Reply<A, E2>
  constructor(reply: Reply<A, E2>) {
    this.reply = reply
  }
  answered(): boolean {
    return Deferred.isDoneUnsafe(this.reply)
  }
  fail(error: ActorStopped | ActorCrashed): void {
    Deferred.doneUnsafe(this.reply, Exit.fail(error))
  }
}

/** Starts an actor in the current scope. */
export const make = <M, E = never, R = never>(
  options: ActorOptions<M, E, R>
): Effect.Effect<Actor<M, E>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const name = options.name
    const trace = yield* Trace
    const traceEncode = options.traceEncode ?? describeValue
    const capacity = Math.max(1, options.capacity)
    const scope = yield* Effect.scope
    const context: Context.Context<R | Scope.Scope> = yield* Effect.context<R | Scope.Scope>()
    const done = yield* Deferred.make<void, E | ActorCrashed>()
    /**
     * Asks whose message was queued: failed when the actor ends. An answered one leaves when the
     * handling fiber next finds the mailbox empty (no exit hook per ask), an ask whose message
     * never got queued (its wait for room was interrupted) leaves through its own exit hook.
     */
    const pending = new Set<PendingAsk>()
    let pruneAt = 64
    /** The mailbox: `items[head..]`, in order (handled slots are cleared). */
    let items: Array<{ readonly msg: M } | undefined> = []
    let head = 0
    /** `tell`s waiting for room, in order. */
    const roomWaiters: Array<Deferred.Deferred<void>> = []
    /** Whether the mailbox is being handled (set before the start, cleared when the handling finds the mailbox empty). */
    let active = false
    /** The handling fiber if one was made, for `stop` (may be stale once it has ended: interrupting it then is harmless). */
    let running: Fiber.Fiber<void, E> | undefined
    let ended = false
    let finishing = false
    /** `stopNow` has begun: the handling fiber takes no further message (its interruption follows). */
    let stopping = false

    const size = () => items.length - head
    /**
     * Queues `msg` behind the mailbox. The first message of an empty mailbox makes an array of its
     * size (an empty array's first `push` grows it to ~17 slots, most of them never used: a
     * mailbox mostly holds one message between empties).
     */
    const enqueue = (msg: M): void => {
      if (items.length === 0) items = [{ msg }]
      else items.push({ msg })
    }

    const finish = (exit: Exit.Exit<unknown, E>): Effect.Effect<void, never, R> =>
      Effect.gen(function*() {
        if (finishing) return
        finishing = true
        ended = true
        // Drop what is queued; a `tell` still waiting for room wakes and fails with ActorStopped.
        items = []
        head = 0
        for (const w of roomWaiters.splice(0)) yield* Deferred.succeed(w, undefined)
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
        // The error is made only for asks left pending: an `ActorStopped` captures a stack trace
        // (~15 us in a deep stack), and every channel's actors finish when a node stops.
        if (pending.size > 0) {
          const reason = Exit.isFailure(result) ? C.findError(result.cause) : undefined
          const stopError: ActorStopped | ActorCrashed =
            reason !== undefined && reason._tag === "Success" && reason.success instanceof ActorCrashed
              ? reason.success
              : new ActorStopped({ actor: name })
          const asks = [...pending]
          pending.clear()
          for (const ask of asks) ask.fail(stopError)
        }
        yield* Deferred.done(done, result)
      })

    /**
     * Handles the mailbox until it is empty, in a plain loop, as long as each handler's effect is a
     * success already (it did its work when called: `Effect.void`): then returns undefined, the
     * actor idle again. Else returns what goes on from the first handler's effect that must run
     * (that effect, then the rest of the mailbox: `drainNext`, with no `suspend` of its own per
     * message). A stop asked meanwhile ends the loop (the fiber's interruption then runs).
     */
    const drainNow = (): Effect.Effect<void, E, R> | undefined => {
      for (;;) {
        if (ended || stopping || head >= items.length) {
          // A new empty array when this one was used (setting `length = 0` instead is a runtime call:
          // ~2x slower per drain measured); the next message makes one of its size (`enqueue`).
          if (items.length > 0) items = []
          head = 0
          active = false
          running = undefined
          // The asks answered while handling (all but those a handler keeps for later).
          if (pending.size > 0) for (const ask of pending) if (ask.answered()) pending.delete(ask)
          return undefined
        }
        const slot = items[head]
        items[head] = undefined
        head += 1
        // A mailbox that never empties (sustained load) drops its handled prefix now and then.
        if (head >= 1024 && head * 2 >= items.length) {
          items = items.slice(head)
          head = 0
        }
        if (slot === undefined) continue // unreachable: every slot from `head` on holds a message
        if (trace.enabled) trace.emit(name, "mailbox", traceEncode(slot.msg))
        const waiter = roomWaiters.shift()
        if (waiter !== undefined) return Effect.andThen(Deferred.succeed(waiter, undefined), Effect.flatMap(handleOrDie(slot.msg), drainNext))
        const handled = options.handle(slot.msg)
        if (!Exit.isExit(handled) || !Exit.isSuccess(handled)) return Effect.flatMap(handled, drainNext)
      }
    }
    /**
     * `drainNow` with `msg` handled first, as if it were the one message in the mailbox: for an idle
     * actor (nothing queued, no `tell` waiting for room) handed a message to handle at once
     * (`postSync`), which so makes no mailbox slot and no array for it.
     */
    const drainFrom = (msg: M): Effect.Effect<void, E, R> | undefined => {
      if (ended || stopping) return drainNow()
      if (trace.enabled) trace.emit(name, "mailbox", traceEncode(msg))
      const handled = options.handle(msg)
      if (!Exit.isExit(handled) || !Exit.isSuccess(handled)) return Effect.flatMap(handled, drainNext)
      return drainNow()
    }
    /**
     * A handler's effect, a defect if it throws: for a message that frees room for a waiting `tell`,
     * which is woken before the handler's work, thrown or not.
     */
    const handleOrDie = (msg: M): Effect.Effect<void, E, R> => {
      try {
        return options.handle(msg)
      } catch (defect) {
        return Effect.die(defect)
      }
    }
    /** The handling fiber's loop: the mailbox until it is empty (then the fiber ends; the next message starts another). */
    const drainNext = (): Effect.Effect<void, E, R> => drainNow() ?? Effect.void

    /**
     * The handling fiber, from the first handler's effect that must run (`drainNow`'s answer). A
     * failure or defect of a handler ends the actor from here (not interruptible: `join`, `stop`
     * and pending asks must hear of it); an interruption comes from `stopNow`, which ends the actor
     * itself once the fiber has stopped. No exit hook on success (a fiber start is on every
     * burst's path).
     */
    const runFrom = (rest: Effect.Effect<void, E, R>): Effect.Effect<void, never, R> =>
      Effect.catchCause(rest, (cause) => Effect.uninterruptible(finish(Exit.failCause(cause))))

    /** Starts the handling fiber if there is none (the message is in the mailbox already). */
    const kick: Effect.Effect<void> = Effect.suspend(() => {
      if (active || ended) return Effect.void
      // The flag, not the fiber, says whether one runs: a fiber may run (part of) its work during
      // the fork and find the mailbox empty before we get it back.
      active = true
      return startNow() ? Effect.void : start
    })
    const started = (fiber: Fiber.Fiber<void, E>): void => {
      if (active) running = fiber
    }
    /**
     * The context the handling fiber (started with `active` set already) runs with: the actor's
     * context over the starting fiber's. The starting fiber's context is used as it is when it already maps every service of the actor's to the
     * same value (a manager's own fibers starting its channels), or all but the `Scope` (then
     * that one is provided: no copy of the rest); only otherwise is the actor's context merged
     * over it, which copies the whole context and rebuilds the fiber's cached view of it (~3 us
     * per start, as much as the fork). The services the handler sees are the same either way.
     */
    const contextOver = (caller: Context.Context<never>): Context.Context<R | Scope.Scope> =>
      caller === context
        ? context
        : !holdsAll(caller, context)
          ? Context.merge(caller, context)
          : caller.mapUnsafe.get(Scope.Scope.key) === scope
            ? caller
            : Context.add(caller, Scope.Scope, scope)
    /**
     * The last starting fiber's context and what `contextOver` made of it: contexts are immutable
     * and a caller starts an actor again and again from the same one (a manager's session fiber,
     * the fibers of one caller, which share their parent's), so the check, the new context and the
     * fiber's cached view of it (its service lookups, made once per new context) are made once, not
     * once per start. Keeps a reference to that context until a start from another one.
     */
    let lastCaller: Context.Context<never> | undefined
    let lastContext: Context.Context<R | Scope.Scope> = context
    const contextFor = (caller: Context.Context<never>): Context.Context<R | Scope.Scope> => {
      if (caller !== lastCaller) {
        lastContext = contextOver(caller)
        lastCaller = caller
      }
      return lastContext
    }
    /**
     * Handles the mailbox at once, and makes the handling fiber only for a handler's effect that
     * must run (`drainNow`): a burst whose handlers all did their work when called (a channel
     * whose sends, signatures and writes are done at once) costs no fiber. The fiber is made with
     * its context from the start (`runForkWith`: detached and interruptible, as `forkDetach`
     * makes it), not forked with the starting fiber's and switched to its own (`updateContext`:
     * an operation per start, and when the contexts differ a switch, an exit hook and a switch
     * back). Not attached to the scope: its finalizer (`stopNow`) interrupts the fiber and ends
     * the actor, which a fork in the scope would add and remove per start. A handler that throws
     * (a defect) ends the actor as a defect in the fiber does; the effect of a handler that asked
     * for a stop is not run (the fiber would have been interrupted before it).
     */
    const runWith = (caller: Context.Context<never>): void => runRest(caller, guarded(drainNow, undefined))
    /** `runWith` for an idle actor handed `msg` to handle first (`drainFrom`). */
    const runFirst = (caller: Context.Context<never>, msg: M): void => runRest(caller, guarded(drainFrom, msg))
    /** `drain(a)`, a handler's throw (a defect) turned into the effect that ends the actor with it. */
    const guarded = <A>(drain: (a: A) => Effect.Effect<void, E, R> | undefined, a: A): Effect.Effect<void, E, R> | undefined => {
      try {
        return drain(a)
      } catch (defect) {
        return Effect.die(defect)
      }
    }
    /** The handling fiber for what the drain left to run, if anything (and no stop came meanwhile). */
    const runRest = (caller: Context.Context<never>, rest: Effect.Effect<void, E, R> | undefined): void => {
      if (rest !== undefined && !stopping && !ended) started(Effect.runForkWith(contextFor(caller))(runFrom(rest)))
    }
    /**
     * The starting fiber's context for the start waiting in a scheduler task (one at a time:
     * `active` is set until the mailbox empties), let go when the task runs.
     */
    let startCaller: Context.Context<never> | undefined
    const startTask = (): void => {
      const caller = startCaller ?? context
      startCaller = undefined
      runWith(caller)
    }
    /**
     * Starts the actor in a scheduler task: the starting fiber's dispatcher, in the place a
     * forked fiber's start would take (after the tasks scheduled before it, batched with them), so
     * the mailbox is handled when a fork's fiber would run. Unlike a fork, no async-context
     * resource is captured for it (Effect makes a `node:async_hooks` `AsyncResource` per scheduled
     * fork and runs the fiber's first step in it: ~5 us a start): an actor handles whatever is in
     * its mailbox, in no caller's async context (nothing here uses `AsyncLocalStorage`; the
     * fiber's own suspensions still capture theirs). Until the task runs there is no fiber: a stop
     * meanwhile ends the actor, and the task then finds it ended. The fiber's context is made from
     * the starter's only when a fiber is made (`contextFor`).
     */
    const start: Effect.Effect<void> = Effect.withFiber((caller) => {
      startCaller = caller.context
      caller.currentDispatcher.scheduleTask(startTask, 0)
      return Effect.void
    })
    /**
     * `start` done now, from the fiber running (the caller's, which would run `start` next): the
     * same task in the same place, with no effect for the caller to run (an operation, and a
     * continuation to resume after it, per start). False when no fiber runs (then `start` is run).
     */
    const startNow = (): boolean => {
      const caller = Fiber.getCurrent()
      if (caller === undefined) return false
      startCaller = caller.context
      caller.currentDispatcher.scheduleTask(startTask, 0)
      return true
    }

    const stopNow: Effect.Effect<void> = Effect.suspend(() => {
      if (finishing) return Effect.void
      stopping = true
      const fiber = running
      // The handling fiber (if any) is interrupted first (it may not have started yet, so its own
      // exit hook may not run): `finish` is idempotent.
      const ended = Effect.provideContext(finish(Exit.void), context)
      return fiber !== undefined ? Effect.andThen(Fiber.interrupt(fiber), ended) : ended
    })
    // Closing the scope stops an idle actor too (a running one is interrupted by its fork's finalizer).
    yield* Effect.addFinalizer(() => stopNow)

    const stopped = () => new ActorStopped({ actor: name })
    /** A `tell` decided when it runs (the mailbox may have drained meanwhile: the room is checked then). */
    const tellWhenRun = (msg: M): Effect.Effect<void, ActorStopped> =>
      Effect.suspend((): Effect.Effect<void, ActorStopped> => {
        if (ended) return Effect.fail(stopped())
        if (size() < capacity && roomWaiters.length === 0) {
          enqueue(msg)
          return kick
        }
        // Full: wait for room (in order with the other waiting tells), then try again.
        return Effect.flatMap(Deferred.make<void>(), (room) => {
          roomWaiters.push(room)
          return Effect.flatMap(Deferred.await(room), () => {
            if (ended) return Effect.fail(stopped())
            enqueue(msg)
            return kick
          })
        })
      })
    const offer = (msg: M): Effect.Effect<void, ActorStopped> | undefined => {
      if (ended) return Effect.fail(stopped())
      // Full: nothing queued now; the wait for room is registered when the effect runs.
      if (size() >= capacity || roomWaiters.length > 0) return tellWhenRun(msg)
      enqueue(msg)
      if (active) return undefined
      // As `kick`: the flag, not the fiber, says whether one runs.
      active = true
      return startNow() ? undefined : start
    }
    const post = (msg: M): Effect.Effect<void> | undefined => {
      if (ended) return undefined
      if (size() >= capacity || roomWaiters.length > 0) return Effect.ignore(tellWhenRun(msg))
      const started = offer(msg)
      // Queued now: undefined (a fiber runs), or the fiber's start, which cannot fail.
      return started === undefined ? undefined : start
    }
    const postSync = (msg: M): boolean => {
      if (ended) return true
      if (size() >= capacity || roomWaiters.length > 0) return false
      if (active) {
        enqueue(msg)
        return true
      }
      active = true
      // The calling fiber's context, as a scheduled start takes its starter's; none: the actor's own.
      // Idle: the mailbox is empty, so `msg` is handled first, without going through it.
      runFirst(Fiber.getCurrent()?.context ?? context, msg)
      return true
    }
    const tell = (msg: M): Effect.Effect<void, ActorStopped> => Effect.suspend(() => offer(msg) ?? Effect.void)
    const tryTell = (msg: M): Effect.Effect<void, ActorStopped | MailboxFull> =>
      Effect.suspend((): Effect.Effect<void, ActorStopped | MailboxFull> => {
        if (ended) return Effect.fail(stopped())
        if (size() >= capacity || roomWaiters.length > 0) return Effect.fail(new MailboxFull({ actor: name }))
        enqueue(msg)
        return kick
      })
    const offerFromHandler = (msg: M): boolean => {
      if (ended || !active || size() >= capacity || roomWaiters.length > 0) return false
      enqueue(msg)
      return true
    }
    const ask = <A, E2 = never>(makeMessage: (reply: Reply<A, E2>) => M): Effect.Effect<A, E2 | ActorStopped | ActorCrashed> =>
      // No generator: an ask is on every command's and snapshot's path.
      Effect.suspend(() => {
        if (ended) return Effect.fail(stopped())
        const reply = Deferred.makeUnsafe<A, E2 | ActorStopped | ActorCrashed>()
        const msg = makeMessage(reply) // before registering: a throwing builder leaves nothing behind
        const ask = new PendingReply(reply)
        // A mailbox that never empties never prunes: answered asks leave here too, amortized O(1).
        if (pending.size >= pruneAt) {
          for (const a of pending) if (a.answered()) pending.delete(a)
          pruneAt = Math.max(64, 2 * pending.size)
        }
        pending.add(ask)
        const answered = Deferred.await(reply)
        // Full: the message waits for room (as `tell` would); an interrupted wait leaves nothing behind.
        if (size() >= capacity || roomWaiters.length > 0) {
          return Effect.onExit(Effect.andThen(tellWhenRun(msg), answered), () => {
            pending.delete(ask)
            return Effect.void
          })
        }
        // Queued now: the wait alone, or after the handling fiber's start. The ask leaves `pending` once answered (`drainNext`).
        enqueue(msg)
        if (active) return answered
        active = true
        return startNow() ? answered : Effect.andThen(start, answered)
      })

    const actor: Actor<M, E> = {
      name,
      tell,
      tryTell,
      offer,
      post,
      postSync,
      ask,
      stop: stopNow.pipe(Effect.andThen(Effect.exit(Deferred.await(done))), Effect.asVoid),
      join: Deferred.await(done),
      isDone: Effect.sync(() => ended),
      waiting: size,
      offerFromHandler,
      idle: () => !ended && !active && size() === 0,
      pendingAsks: () => pending.size
    }
    return actor
  })
