/**
 * An actor's fast paths (Actor.ts): a handler whose effect is a success already is followed by the
 * next message with no continuation step, and an ask queued at once has no exit hook (answered
 * asks leave `pending` when the mailbox empties, or at a prune). Properties: for random mixes of
 * handlers (done when called, `Effect.sync`, suspending, answering asks) and of sends (bursts,
 * single tells, asks), every message is handled once in the order sent and every ask gets its
 * answer, as the plain path would; a stop asked while a burst is handled takes nothing more; the
 * asks kept in `pending` stay bounded under a mailbox that never empties.
 */
import { describe, expect, it } from "vitest"
import { Deferred, Effect, Exit, Fiber, Tracer } from "effect"
import fc from "fast-check"
import * as Actor from "../../src/actors/Actor.ts"

type Kind = "void" | "succeed" | "sync" | "yield" | "ask"
type Msg = { readonly id: number; readonly kind: Kind; readonly reply?: Actor.Reply<number> }

/** Effect operations evaluated while `effect` runs (a tracer's `context` hook sees each one). */
const countOps = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<{ readonly value: A; readonly ops: number }, E> => {
  let ops = 0
  const tracer = Tracer.make({
    span: (options) => Tracer.nativeTracer.span(options),
    context: (primitive, fiber) => {
      ops += 1
      return primitive["~effect/Effect/evaluate"](fiber)
    }
  })
  return Effect.map(Effect.withTracer(effect, tracer), (value) => ({ value, ops }))
}

const handlerFor = (seen: Array<number>) => (msg: Msg): Effect.Effect<void> => {
  switch (msg.kind) {
    case "void":
      seen.push(msg.id)
      return Effect.void
    case "succeed":
      seen.push(msg.id)
      return Effect.succeed(msg.id)
    case "sync":
      return Effect.sync(() => void seen.push(msg.id))
    case "yield":
      return Effect.andThen(Effect.yieldNow, Effect.sync(() => void seen.push(msg.id)))
    case "ask":
      seen.push(msg.id)
      // Answered when called: the asker's value is its id.
      if (msg.reply !== undefined) Deferred.doneUnsafe(msg.reply, Exit.succeed(msg.id))
      return Effect.void
  }
}

const step = fc.record({
  kind: fc.constantFrom<Kind>("void", "succeed", "sync", "yield", "ask"),
  /** How it is sent: queued with the ones before it (`post`), or after a pause (`tell` then yields). */
  send: fc.constantFrom("burst", "alone")
})

describe("Actor: handlers done when called, asks without exit hooks", () => {
  it("handles every message once, in order, and answers every ask, whatever the mix", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 8 }), async (steps, capacity) => {
        const program = Effect.scoped(
          Effect.gen(function*() {
            const seen: Array<number> = []
            const actor = yield* Actor.make<Msg>({ name: "mix", capacity, handle: handlerFor(seen) })
            const answers: Array<Fiber.Fiber<number, Actor.ActorStopped | Actor.ActorCrashed>> = []
            for (const [id, s] of steps.entries()) {
              if (s.kind === "ask") answers.push(yield* Effect.forkChild(actor.ask<number>((reply) => ({ id, kind: "ask", reply }))))
              else if (s.send === "burst") {
                const started = actor.post({ id, kind: s.kind })
                if (started !== undefined) yield* started
              } else {
                yield* actor.tell({ id, kind: s.kind })
                yield* Effect.yieldNow
                yield* Effect.yieldNow
              }
            }
            const got: Array<number> = []
            for (const f of answers) got.push(yield* Fiber.join(f))
            // The mailbox drained: the same ids, in the order sent (asks were forked in order and queue when they run).
            while (!actor.idle()) yield* Effect.yieldNow
            expect(got).toEqual(steps.flatMap((s, id) => (s.kind === "ask" ? [id] : [])))
            expect([...seen].sort((a, b) => a - b)).toEqual(steps.map((_, id) => id))
            const direct = seen.filter((id) => steps[id]?.kind !== "ask")
            expect(direct).toEqual(steps.flatMap((s, id) => (s.kind === "ask" ? [] : [id])))
            // Every ask was answered and the fiber went idle since: none is kept.
            expect(actor.pendingAsks()).toBe(0)
          })
        )
        await Effect.runPromise(program)
      }),
      { numRuns: 200 }
    )
  })

  it("a burst of handlers done when called costs no continuation step per message", async () => {
    const program = Effect.scoped(
      Effect.gen(function*() {
        let n = 0
        const actor = yield* Actor.make<number>({
          name: "burst",
          capacity: 1024,
          handle: () => {
            n += 1
            return Effect.void
          }
        })
        const burst = (count: number) =>
          countOps(
            Effect.gen(function*() {
              for (let i = 0; i < count; i++) {
                const started = actor.post(i)
                if (started !== undefined) yield* started
              }
              while (!actor.idle()) yield* Effect.yieldNow
            })
          )
        const small = yield* burst(10)
        const large = yield* burst(510)
        return { perMessage: (large.ops - small.ops) / 500, handled: n }
      })
    )
    const { perMessage, handled } = await Effect.runPromise(program)
    expect(handled).toBe(520)
    // The plain path costs two operations per message (the continuation and its value).
    expect(perMessage).toBeLessThan(0.5)
  })

  it("a stop asked while a burst is handled takes no further message", async () => {
    const program = Effect.scoped(
      Effect.gen(function*() {
        const seen: Array<number> = []
        const gate = yield* Deferred.make<void>()
        let actor: Actor.Actor<number> | undefined
        actor = yield* Actor.make<number>({
          name: "stopped mid-burst",
          capacity: 64,
          handle: (m) => {
            seen.push(m)
            // Wakes the stopper at once (a Deferred resumes its waiter synchronously): the stop is asked now.
            if (m === 3) Deferred.doneUnsafe(gate, Exit.void)
            return Effect.void
          }
        })
        const self = actor
        const stopper = yield* Effect.forkChild(Effect.andThen(Deferred.await(gate), self.stop))
        yield* Effect.yieldNow
        for (let i = 0; i < 10; i++) {
          const started = self.post(i)
          if (started !== undefined) yield* started
        }
        yield* Fiber.join(stopper)
        expect(seen).toEqual([0, 1, 2, 3])
        expect(Exit.isSuccess(yield* Effect.exit(self.join))).toBe(true)
        expect(yield* self.isDone).toBe(true)
      })
    )
    await Effect.runPromise(program)
  })

  it("answered asks do not pile up under a mailbox that never empties; an ask interrupted while waiting for room leaves none", async () => {
    const program = Effect.scoped(
      Effect.gen(function*() {
        let looping = true
        let self: Actor.Actor<Msg | "loop"> | undefined
        const actor: Actor.Actor<Msg | "loop"> = yield* Actor.make<Msg | "loop">({
          name: "busy",
          capacity: 4,
          handle: (m) => {
            if (m === "loop") {
              // Always one more behind the mailbox while looping: it never empties.
              if (looping) self?.offerFromHandler("loop")
              return Effect.yieldNow
            }
            if (m.reply !== undefined) Deferred.doneUnsafe(m.reply, Exit.succeed(m.id))
            return Effect.void
          }
        })
        self = actor
        yield* actor.tell("loop")
        let most = 0
        for (let id = 0; id < 1000; id++) {
          expect(yield* actor.ask<number>((reply) => ({ id, kind: "ask", reply }))).toBe(id)
          most = Math.max(most, actor.pendingAsks())
        }
        expect(actor.idle()).toBe(false)
        expect(most).toBeLessThanOrEqual(130)
        looping = false
        while (!actor.idle()) yield* Effect.yieldNow
        expect(actor.pendingAsks()).toBe(0)
        // A full mailbox: the ask waits for room; interrupted, it leaves nothing in `pending`.
        const gate = yield* Deferred.make<void>()
        const blocked = yield* Actor.make<Deferred.Deferred<void> | Msg>({
          name: "full",
          capacity: 1,
          handle: (m) => ("kind" in m ? Effect.void : Deferred.await(m))
        })
        yield* blocked.tell(gate)
        yield* Effect.yieldNow
        yield* blocked.tell({ id: 0, kind: "void" })
        const waiting = yield* Effect.forkChild(blocked.ask<number>((reply) => ({ id: 1, kind: "ask", reply })))
        yield* Effect.yieldNow
        expect(blocked.pendingAsks()).toBe(1)
        yield* Fiber.interrupt(waiting)
        expect(blocked.pendingAsks()).toBe(0)
        yield* Deferred.succeed(gate, undefined)
      })
    )
    await Effect.runPromise(program)
  })
})
