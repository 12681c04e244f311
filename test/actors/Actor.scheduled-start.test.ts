/**
 * An idle actor's scheduled start (`post`, `tell`, `ask`): the fiber is made when a scheduler task
 * of the starting fiber's dispatcher runs, in the place a forked fiber's start takes, with no
 * async-context resource of its own. It must run when a fork would (after the tasks scheduled
 * before it, before those scheduled after), handle every message once in order, see the actor's
 * services, and a stop before its task runs must end the actor with nothing handled and the
 * pending asks failed.
 */
import { describe, expect, it } from "vitest"
import { Context, Effect, Exit, Fiber } from "effect"
import fc from "fast-check"
import * as Actor from "../../src/actors/Actor.ts"
import { SimRuntime } from "../../src/sim/Runtime.ts"

class Label extends Context.Service<Label, string>()("test/Actor.scheduled-start/Label") {}

describe("Actor: a scheduled start", () => {
  it("runs in the order a forked fiber would, among forks scheduled before and after it (deterministic scheduler)", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("fork", "post", "tell"), { minLength: 1, maxLength: 12 }), (steps) => {
        const rt = new SimRuntime()
        const seen: Array<string> = []
        const program = Effect.scoped(
          Effect.gen(function*() {
            const actor = yield* Actor.make<string>({ name: "order", capacity: 64, handle: (m) => Effect.sync(() => void seen.push(m)) })
            // What a fork in the actor's place would give: every step a task, run in the order scheduled,
            // and an actor already running takes a message after what it has.
            const expected: Array<string> = []
            let pendingStart: Array<string> | undefined
            const forked: Array<Array<string>> = []
            for (const [i, step] of steps.entries()) {
              if (step === "fork") {
                const mine = [`fork ${i}`]
                forked.push(mine)
                yield* Effect.forkDetach(Effect.sync(() => void seen.push(`fork ${i}`)))
                continue
              }
              const msg = `${step} ${i}`
              if (pendingStart === undefined) {
                pendingStart = [msg]
                forked.push(pendingStart)
              } else pendingStart.push(msg)
              if (step === "post") {
                const start = actor.post(msg)
                if (start !== undefined) yield* start
              } else yield* actor.tell(msg)
            }
            for (const group of forked) expected.push(...group)
            yield* Effect.yieldNow
            while (!actor.idle()) yield* Effect.yieldNow
            expect(seen).toEqual(expected)
          })
        )
        rt.runNow(program)
      }),
      { numRuns: 200, seed: 3 }
    )
  })

  it("the handler sees the services of the context the actor was made in, started from a fiber without them", async () => {
    const program = Effect.scoped(
      Effect.gen(function*() {
        const labels: Array<string> = []
        const actor = yield* Actor.make<number, never, Label>({
          name: "services",
          capacity: 4,
          handle: () =>
            Effect.gen(function*() {
              labels.push(yield* Label)
            })
        }).pipe(Effect.provideService(Label, "made"))
        const start = actor.post(1)
        if (start !== undefined) yield* start
        while (!actor.idle()) yield* Effect.yieldNow
        yield* actor.tell(2).pipe(Effect.provideService(Label, "caller"))
        while (!actor.idle()) yield* Effect.yieldNow
        expect(labels).toEqual(["made", "made"])
      })
    )
    await Effect.runPromise(program)
  })

  it("a stop before the start's task runs ends the actor: nothing handled, a pending ask fails with ActorStopped", async () => {
    const program = Effect.scoped(
      Effect.gen(function*() {
        const seen: Array<number> = []
        const actor = yield* Actor.make<{ readonly n: number; readonly reply?: Actor.Reply<number> }>({
          name: "stopped early",
          capacity: 4,
          handle: (m) => Effect.sync(() => void seen.push(m.n))
        })
        // From a fiber: the start's task scheduled at once (nothing to run).
        expect(actor.post({ n: 1 })).toBeUndefined()
        // The task has not run yet (no yield since): an ask queues behind, then the stop.
        const asked = yield* Effect.forkChild(actor.ask<number>((reply) => ({ n: 2, reply })), { startImmediately: true })
        yield* actor.stop
        const exit = yield* Fiber.await(asked)
        expect(Exit.isFailure(exit) && JSON.stringify(exit.cause).includes("ActorStopped")).toBe(true)
        for (let i = 0; i < 5; i++) yield* Effect.yieldNow
        expect(seen).toEqual([])
        expect(yield* actor.isDone).toBe(true)
        expect(Exit.isSuccess(yield* Effect.exit(actor.join))).toBe(true)
      })
    )
    await Effect.runPromise(program)
  })
})
