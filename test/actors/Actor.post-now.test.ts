/**
 * `Actor.postSync`: `post` that handles an idle actor's mailbox at once, on the caller's stack,
 * instead of starting it in a scheduler task. It must change when the handler runs, never what it
 * handles or in which order: for random mixes of `post`, `postSync` and `tell` and of handlers
 * (done when called, `Effect.sync`, suspending), every message is handled once, in the order sent,
 * as with `post` alone; an idle actor has handled a message that does not suspend when `postSync`
 * returns (a `post`'s start has not run it yet); a running actor takes it with nothing to run; a
 * full mailbox refuses it (false, nothing queued); a stopped actor drops it. From no fiber at all,
 * the handling fiber has the actor's own context; from a fiber, the caller's (as a scheduled start).
 */
import { describe, expect, it } from "vitest"
import { Context, Effect } from "effect"
import fc from "fast-check"
import * as Actor from "../../src/actors/Actor.ts"

type Kind = "void" | "sync" | "yield"
type Msg = { readonly id: number; readonly kind: Kind }

const handlerFor = (seen: Array<number>) => (msg: Msg): Effect.Effect<void> => {
  switch (msg.kind) {
    case "void":
      seen.push(msg.id)
      return Effect.void
    case "sync":
      return Effect.sync(() => void seen.push(msg.id))
    case "yield":
      return Effect.andThen(Effect.yieldNow, Effect.sync(() => void seen.push(msg.id)))
  }
}

const send = fc.constantFrom("post", "tell", "postSync", "postSync after a pause")

describe("Actor.postSync", () => {
  it("handles every message once, in the order sent, whatever the mix of sends and handlers", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ kind: fc.constantFrom<Kind>("void", "sync", "yield"), send }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        async (steps, capacity) => {
          const program = Effect.scoped(
            Effect.gen(function*() {
              const seen: Array<number> = []
              const actor = yield* Actor.make<Msg>({ name: "mix", capacity, handle: handlerFor(seen) })
              for (const [id, s] of steps.entries()) {
                const msg = { id, kind: s.kind }
                if (s.send === "tell") yield* actor.tell(msg)
                else if (s.send === "post") {
                  const started = actor.post(msg)
                  if (started !== undefined) yield* started
                } else {
                  if (s.send === "postSync after a pause") {
                    yield* Effect.yieldNow
                    yield* Effect.yieldNow
                  }
                  // Refused when full (nothing queued): then posted, as the channel manager does.
                  if (!actor.postSync(msg)) {
                    const started = actor.post(msg)
                    if (started !== undefined) yield* started
                  }
                }
              }
              while (!actor.idle()) yield* Effect.yieldNow
              expect(seen).toEqual(steps.map((_, id) => id))
            })
          )
          await Effect.runPromise(program)
        }
      ),
      { numRuns: 200 }
    )
  })

  it("post schedules an idle actor's start; postSync handles the mailbox before it returns", async () => {
    const program = Effect.scoped(
      Effect.gen(function*() {
        const seen: Array<number> = []
        const actor = yield* Actor.make<Msg>({ name: "now", capacity: 4, handle: handlerFor(seen) })
        // `post`: the start schedules the handling (at once, from this fiber: no effect to run); nothing handled yet.
        const later = actor.post({ id: 0, kind: "void" })
        expect(later).toBeUndefined()
        expect(actor.idle()).toBe(false)
        expect(seen).toEqual([])
        while (!actor.idle()) yield* Effect.yieldNow
        expect(seen).toEqual([0])
        // `postSync`: handled by the time it returns.
        expect(actor.postSync({ id: 1, kind: "void" })).toBe(true)
        expect(seen).toEqual([0, 1])
        expect(actor.idle()).toBe(true)
      })
    )
    await Effect.runPromise(program)
  })

  it("postSync from a fiber: the handling fiber has the caller's context, as a scheduled start", async () => {
    class Tag extends Context.Service<Tag, string>()("test/postSync/CallerTag") {}
    const seen: Array<string> = []
    const program = Effect.scoped(
      Effect.gen(function*() {
        const actor = yield* Actor.make<number>({
          name: "from a fiber",
          capacity: 4,
          handle: (n) =>
            Effect.gen(function*() {
              yield* Effect.yieldNow
              const tag = yield* Effect.serviceOption(Tag)
              seen.push(`${tag._tag === "Some" ? tag.value : "none"}:${n}`)
            })
        })
        yield* Effect.sync(() => expect(actor.postSync(1)).toBe(true)).pipe(Effect.provideService(Tag, "caller's"))
        while (!actor.idle()) yield* Effect.yieldNow
      })
    )
    await Effect.runPromise(program)
    expect(seen).toEqual(["caller's:1"])
  })

  it("postSync: handles an idle actor's mailbox before it returns, queues behind a running one, refuses when full, drops once stopped", async () => {
    const program = Effect.scoped(
      Effect.gen(function*() {
        const seen: Array<number> = []
        const actor = yield* Actor.make<Msg>({ name: "sync", capacity: 2, handle: handlerFor(seen) })
        expect(actor.postSync({ id: 0, kind: "void" })).toBe(true)
        expect(seen).toEqual([0])
        expect(actor.idle()).toBe(true)
        // A handler that suspends: the mailbox is handled up to it, the rest follows in its fiber.
        expect(actor.postSync({ id: 1, kind: "yield" })).toBe(true)
        expect(actor.idle()).toBe(false)
        expect(actor.postSync({ id: 2, kind: "void" })).toBe(true)
        expect(actor.postSync({ id: 3, kind: "void" })).toBe(true)
        // Full (capacity 2, two waiting): refused, nothing queued.
        expect(actor.waiting()).toBe(2)
        expect(actor.postSync({ id: 9, kind: "void" })).toBe(false)
        expect(actor.waiting()).toBe(2)
        while (!actor.idle()) yield* Effect.yieldNow
        expect(seen).toEqual([0, 1, 2, 3])
        yield* actor.stop
        expect(actor.postSync({ id: 4, kind: "void" })).toBe(true)
        expect(seen).toEqual([0, 1, 2, 3])
      })
    )
    await Effect.runPromise(program)
  })

  it("postSync from outside any fiber: the handler's effect runs in a fiber with the actor's own context", async () => {
    class Tag extends Context.Service<Tag, string>()("test/postSync/Tag") {}
    const seen: Array<string> = []
    const program = Effect.scoped(
      Effect.gen(function*() {
        const actor = yield* Actor.make<number, never, Tag>({
          name: "outside",
          capacity: 4,
          handle: (n) =>
            Effect.gen(function*() {
              yield* Effect.yieldNow
              seen.push(`${yield* Tag}:${n}`)
            })
        }).pipe(Effect.provideService(Tag, "actor's"))
        // Called from a plain callback (no fiber running), as a simulated network calls a sink.
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(() => {
          expect(actor.postSync(1)).toBe(true)
          expect(actor.postSync(2)).toBe(true)
          resolve()
        })))
        while (!actor.idle()) yield* Effect.yieldNow
      })
    )
    await Effect.runPromise(program)
    expect(seen).toEqual(["actor's:1", "actor's:2"])
  })
})
