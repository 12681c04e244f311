/**
 * An actor handles its mailbox at once when it starts and makes a fiber only for a handler's
 * effect that must run (Actor.ts `runWith`): a burst whose handlers all did their work when called
 * costs no fiber. Property: for random mixes of handlers (done when called, `Effect.sync`,
 * suspending, failing, dying, throwing, answering an ask) and of sends (`post`, `postSync`, `tell`,
 * `ask`), what is handled, in which order, every send's and ask's outcome and the actor's end are
 * those of the plain form, where every handler's effect must run (each wrapped in a `suspend`: a
 * fiber per start, as before). Counts: such a burst makes no fiber; a handler whose effect must run
 * makes one for the rest of the mailbox; the effect of a handler that asked for a stop is not run.
 */
import { describe, expect, it } from "vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Result } from "effect"
import fc from "fast-check"
import * as Actor from "../../src/actors/Actor.ts"

type Kind = "void" | "sync" | "yield" | "fail" | "die" | "throw" | "ask"
type Msg = { readonly id: number; readonly kind: Kind; readonly reply?: Actor.Reply<number> }

const handlerFor = (seen: Array<number>) => (msg: Msg): Effect.Effect<void, string> => {
  switch (msg.kind) {
    case "void":
      seen.push(msg.id)
      return Effect.void
    case "sync":
      return Effect.sync(() => void seen.push(msg.id))
    case "yield":
      return Effect.andThen(Effect.yieldNow, Effect.sync(() => void seen.push(msg.id)))
    case "fail":
      seen.push(msg.id)
      return Effect.fail(`failed at ${msg.id}`)
    case "die":
      seen.push(msg.id)
      return Effect.die(`died at ${msg.id}`)
    case "throw":
      seen.push(msg.id)
      throw new Error(`thrown at ${msg.id}`)
    case "ask":
      seen.push(msg.id)
      if (msg.reply !== undefined) Deferred.doneUnsafe(msg.reply, Exit.succeed(msg.id))
      return Effect.void
  }
}

/** An exit as comparable text: its value, or its error (an `ActorCrashed` with its defect's message), or its defect. */
const describeExit = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return `ok ${String(exit.value)}`
  const error = Cause.findError(exit.cause)
  if (Result.isSuccess(error)) {
    const e = error.success
    if (e instanceof Actor.ActorCrashed) return `fail ActorCrashed ${e.defect instanceof Error ? e.defect.message : String(e.defect)}`
    return `fail ${typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e)}`
  }
  const defect = Cause.findDefect(exit.cause)
  return Result.isSuccess(defect) ? `die ${String(defect.success)}` : "interrupted"
}

const kind = fc.constantFrom<Kind>("void", "void", "sync", "yield", "fail", "die", "throw", "ask")
const send = fc.constantFrom("post", "postSync", "tell", "tell after a pause")

/** What happened: the handled ids in order, each send's and ask's outcome, the end. */
const observe = (steps: ReadonlyArray<{ readonly kind: Kind; readonly send: string }>, capacity: number, plain: boolean) =>
  Effect.scoped(
    Effect.gen(function*() {
      const seen: Array<number> = []
      const handle = handlerFor(seen)
      const actor = yield* Actor.make<Msg, string>({
        name: "mix",
        capacity,
        // The plain form: an effect to run for every message (never a success already).
        handle: plain ? (msg) => Effect.suspend(() => handle(msg)) : handle
      })
      const outcomes: Array<string> = []
      const asks: Array<Fiber.Fiber<number, Actor.ActorStopped | Actor.ActorCrashed>> = []
      for (const [id, s] of steps.entries()) {
        if (s.kind === "ask") {
          asks.push(yield* Effect.forkChild(actor.ask<number>((reply) => ({ id, kind: "ask", reply }))))
          continue
        }
        const msg = { id, kind: s.kind }
        if (s.send === "tell" || s.send === "tell after a pause") {
          if (s.send === "tell after a pause") {
            yield* Effect.yieldNow
            yield* Effect.yieldNow
          }
          outcomes.push(`tell ${id}: ${describeExit(yield* Effect.exit(actor.tell(msg)))}`)
        } else {
          // `postSync` refused (a full mailbox): posted, as the channel manager does.
          const started = s.send === "post" || !actor.postSync(msg) ? actor.post(msg) : undefined
          if (started !== undefined) yield* started
        }
      }
      for (const f of asks) outcomes.push(`ask: ${describeExit(yield* Fiber.await(f))}`)
      while (!actor.idle() && !(yield* actor.isDone)) yield* Effect.yieldNow
      const end = (yield* actor.isDone) ? describeExit(yield* Effect.exit(actor.join)) : "running"
      return { seen, outcomes, end }
    })
  )

/** Fibers made (the runtime numbers them in order) while `effect` runs. */
const fibersMade = <A>(effect: Effect.Effect<A>): Effect.Effect<{ readonly value: A; readonly fibers: number }> => {
  const probe = Effect.map(Effect.forkDetach(Effect.void, { startImmediately: true }), (f) => f.id)
  return Effect.gen(function*() {
    const before = yield* probe
    const value = yield* effect
    const after = yield* probe
    return { value, fibers: after - before - 1 }
  })
}

describe("Actor: a burst handled at once makes no fiber", () => {
  it("handles, answers and ends as the plain form (every handler's effect run in a fiber), whatever the mix", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ kind, send }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 6 }), async (steps, capacity) => {
        const fast = await Effect.runPromise(observe(steps, capacity, false))
        const plain = await Effect.runPromise(observe(steps, capacity, true))
        expect(fast).toEqual(plain)
      }),
      { numRuns: 300, seed: 16 }
    )
  })

  it("a burst whose handlers are done when called makes no fiber; one whose effect must run makes one for the rest", async () => {
    const program = Effect.scoped(
      Effect.gen(function*() {
        const seen: Array<number> = []
        const actor = yield* Actor.make<Msg, string>({ name: "count", capacity: 64, handle: handlerFor(seen) })
        const burst = (kinds: ReadonlyArray<Kind>, now: boolean) =>
          fibersMade(
            Effect.gen(function*() {
              for (const [i, kind] of kinds.entries()) {
                const msg = { id: seen.length + i, kind }
                const started = now && actor.postSync(msg) ? undefined : actor.post(msg)
                if (started !== undefined) yield* started
              }
              while (!actor.idle()) yield* Effect.yieldNow
            })
          )
        const scheduled = yield* burst(["void", "void", "void", "void"], false)
        const atOnce = yield* burst(["void", "void", "void"], true)
        const mixed = yield* burst(["void", "sync", "void", "yield", "void"], false)
        return { scheduled: scheduled.fibers, atOnce: atOnce.fibers, mixed: mixed.fibers, handled: seen.length }
      })
    )
    const r = await Effect.runPromise(program)
    expect(r).toEqual({ scheduled: 0, atOnce: 0, mixed: 1, handled: 12 })
  })

  it("the effect of a handler that asked for a stop (through a waiter it woke) is not run, as the fiber's interruption would", async () => {
    for (const plain of [false, true]) {
      const program = Effect.scoped(
        Effect.gen(function*() {
          const seen: Array<number> = []
          let ran = false
          const gate = yield* Deferred.make<void>()
          const handle = (m: number): Effect.Effect<void> => {
            seen.push(m)
            if (m !== 2) return Effect.void
            // Wakes the stopper on this stack (a Deferred resumes its waiter synchronously): the stop is asked now.
            Deferred.doneUnsafe(gate, Exit.void)
            return Effect.sync(() => {
              ran = true
            })
          }
          const actor = yield* Actor.make<number>({ name: "stopping", capacity: 16, handle: plain ? (m) => Effect.suspend(() => handle(m)) : handle })
          const stopper = yield* Effect.forkChild(Effect.andThen(Deferred.await(gate), actor.stop))
          yield* Effect.yieldNow
          for (let i = 0; i < 5; i++) {
            const started = actor.post(i)
            if (started !== undefined) yield* started
          }
          yield* Fiber.join(stopper)
          return { seen, ran, done: yield* actor.isDone }
        })
      )
      expect(await Effect.runPromise(program)).toEqual({ seen: [0, 1, 2], ran: false, done: true })
    }
  })
})
