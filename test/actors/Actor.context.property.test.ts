/**
 * An actor's fiber runs with its own context merged over the starting fiber's (Actor.ts): the
 * fast paths (the caller's context used as it is when it holds every service of the actor's, or
 * with only the `Scope` replaced) must give the handler exactly the services the merge gives.
 * Property: for random callers (the same services, some replaced, some missing, extra ones, their
 * own `Scope` or not), every service the handler reads equals `Context.merge(caller, own)`'s; and
 * so for every start of one actor from a sequence of callers (a caller's context again, or another:
 * the actor keeps what it made of the last one).
 */
import { describe, expect, it } from "vitest"
import { Context, Deferred, Effect, Exit, Scope } from "effect"
import fc from "fast-check"
import * as Actor from "../../src/actors/Actor.ts"

const KEYS = 6
const services = Array.from({ length: KEYS }, (_, i) => Context.Service<{ readonly id: string }>(`test/actor-context/${i}`))

/** What a caller's context holds for each key: the actor's service, another one, nothing; plus its Scope choice. */
const callerShape = fc.record({
  // Mostly the actor's own services, so that callers holding all of them (the fast paths) are common.
  keys: fc.array(
    fc.oneof({ arbitrary: fc.constant("same"), weight: 10 }, { arbitrary: fc.constant("other"), weight: 1 }, { arbitrary: fc.constant("missing"), weight: 1 }),
    { minLength: KEYS, maxLength: KEYS }
  ),
  extra: fc.boolean(),
  scope: fc.constantFrom("actor", "own", "none")
})

type Seen = { readonly ids: ReadonlyArray<string | undefined>; readonly scopeIsActors: boolean; readonly extra: string | undefined }
const Extra = Context.Service<{ readonly id: string }>("test/actor-context/extra")

/** The caller's context a shape describes, over the actor's own services (`own`). */
type CallerShape = typeof callerShape extends fc.Arbitrary<infer A> ? A : never
const callerOf = (shape: CallerShape, own: Context.Context<never>, actorScope: Scope.Scope, callerScope: Scope.Scope): Context.Context<never> => {
  let caller: Context.Context<never> = Context.empty()
  for (const [i, s] of services.entries()) {
    const k = shape.keys[i]
    if (k === "same") caller = Context.add(caller, s, Context.getUnsafe(own, s))
    else if (k === "other") caller = Context.add(caller, s, { id: `caller-${i}` })
  }
  if (shape.extra) caller = Context.add(caller, Extra, { id: "extra" })
  if (shape.scope === "actor") caller = Context.add(caller, Scope.Scope, actorScope)
  else if (shape.scope === "own") caller = Context.add(caller, Scope.Scope, callerScope)
  return caller
}

/**
 * An actor with its own services (and its Scope) whose handler replies with what it runs with:
 * each service's id, whether its Scope is the actor's, the caller's extra service.
 */
const seeingActor = Effect.gen(function*() {
  const actorScope = yield* Effect.scope
  let own = Context.add(Context.empty(), Scope.Scope, actorScope)
  for (const [i, s] of services.entries()) own = Context.add(own, s, { id: `own-${i}` })
  const actor = yield* Actor.make<Deferred.Deferred<Seen>>({
    name: "context",
    capacity: 4,
    handle: (reply) =>
      Effect.gen(function*() {
        const ctx = yield* Effect.context<never>()
        const ids = services.map((s) => Context.getOption(ctx, s).pipe((o) => (o._tag === "Some" ? o.value.id : undefined)))
        const scope = Context.getOption(ctx, Scope.Scope)
        const extra = Context.getOption(ctx, Extra)
        yield* Deferred.succeed(reply, { ids, scopeIsActors: scope._tag === "Some" && scope.value === actorScope, extra: extra._tag === "Some" ? extra.value.id : undefined })
      })
  }).pipe(Effect.provideContext(own))
  return { own, actor, actorScope }
})

describe("Actor: the handler's context", () => {
  it("equals Context.merge(caller, own) for every caller", async () => {
    await fc.assert(
      fc.asyncProperty(callerShape, async (shape) => {
        const program = Effect.scoped(
          Effect.gen(function*() {
            const { own, actor, actorScope } = yield* seeingActor
            const seen = yield* Deferred.make<Seen>()
            // The caller's context, built from the shape.
            const callerScope = yield* Scope.make()
            const caller = callerOf(shape, own, actorScope, callerScope)
            yield* actor.tell(seen).pipe(Effect.provideContext(caller))
            const got = yield* Deferred.await(seen)
            yield* Scope.close(callerScope, Exit.void)
            // What the merge gives: the actor's services, the caller's extra one, the actor's Scope.
            const merged = Context.merge(caller, own)
            expect(got.ids).toEqual(services.map((s) => Context.getUnsafe(merged, s).id))
            expect(got.scopeIsActors).toBe(true)
            expect(got.extra).toBe(shape.extra ? "extra" : undefined)
          })
        )
        await Effect.runPromise(program)
      }),
      { numRuns: 300 }
    )
  })

  it("equals Context.merge(caller, own) at every start of one actor, callers repeated or not", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callerShape, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(7), { minLength: 1, maxLength: 12 }), async (shapes, starts) => {
        const program = Effect.scoped(
          Effect.gen(function*() {
            const { own, actor, actorScope } = yield* seeingActor
            const callerScope = yield* Scope.make()
            // Each caller's context built once: a start from it again is a start from the same object.
            const callers = shapes.map((shape) => ({ shape, caller: callerOf(shape, own, actorScope, callerScope) }))
            for (const i of starts) {
              const c = callers[i % callers.length]
              if (c === undefined) continue
              const seen = yield* Deferred.make<Seen>()
              yield* actor.tell(seen).pipe(Effect.provideContext(c.caller))
              const got = yield* Deferred.await(seen)
              // Idle again (the fiber ended), so the next tell starts a new one.
              while (!actor.idle()) yield* Effect.yieldNow
              const merged = Context.merge(c.caller, own)
              expect(got.ids).toEqual(services.map((s) => Context.getUnsafe(merged, s).id))
              expect(got.scopeIsActors).toBe(true)
              expect(got.extra).toBe(c.shape.extra ? "extra" : undefined)
            }
            yield* Scope.close(callerScope, Exit.void)
          })
        )
        await Effect.runPromise(program)
      }),
      { numRuns: 200, seed: 11 }
    )
  })
})
