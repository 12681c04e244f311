import { assert, describe, it } from "@effect/vitest"
import { Data, Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Actor from "../../src/actors/Actor.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly why: string }> {}

type Msg =
  | { readonly _tag: "Add"; readonly n: number }
  | { readonly _tag: "Get"; readonly reply: Actor.Reply<number> }
  | { readonly _tag: "Hold"; readonly reply: Actor.Reply<number> } // kept, never answered
  | { readonly _tag: "Block"; readonly until: Deferred.Deferred<void> }
  | { readonly _tag: "Crash" }
  | { readonly _tag: "Fail" }
  | { readonly _tag: "Div"; readonly by: number; readonly reply: Actor.Reply<number, Boom> }

const counter = (capacity = 4) =>
  Effect.gen(function*() {
    let total = 0
    const held: Array<Actor.Reply<number>> = []
    return yield* Actor.make<Msg, Boom>({
      name: "counter",
      capacity,
      handle: (msg) => {
        switch (msg._tag) {
          case "Add":
            return Effect.sync(() => {
              total += msg.n
            })
          case "Get":
            return Deferred.succeed(msg.reply, total)
          case "Hold":
            return Effect.sync(() => {
              held.push(msg.reply)
            })
          case "Block":
            return Deferred.await(msg.until)
          case "Crash":
            return Effect.die("bug")
          case "Fail":
            return Effect.fail(new Boom({ why: "asked to" }))
          case "Div":
            return msg.by === 0
              ? Deferred.fail(msg.reply, new Boom({ why: "division by zero" }))
              : Deferred.succeed(msg.reply, total / msg.by)
        }
      }
    })
  })

describe("Actor", () => {
  it.effect("tell then ask sees messages in order", () =>
    Effect.gen(function*() {
      const actor = yield* counter()
      yield* actor.tell({ _tag: "Add", n: 2 })
      yield* actor.tell({ _tag: "Add", n: 3 })
      assert.strictEqual(yield* actor.ask<number>((reply) => ({ _tag: "Get", reply })), 5)
      // a typed error in the reply reaches the asker, the actor keeps running
      const err = yield* Effect.flip(actor.ask<number, Boom>((reply) => ({ _tag: "Div", by: 0, reply })))
      assert.strictEqual(err._tag, "Boom")
      assert.strictEqual(yield* actor.ask<number, Boom>((reply) => ({ _tag: "Div", by: 5, reply })), 1)
    }))

  it.effect("the mailbox is bounded: tryTell fails when full, tell waits", () =>
    Effect.gen(function*() {
      const actor = yield* counter(2)
      const gate = yield* Deferred.make<void>()
      yield* actor.tell({ _tag: "Block", until: gate })
      yield* Effect.yieldNow
      yield* actor.tell({ _tag: "Add", n: 1 })
      yield* actor.tell({ _tag: "Add", n: 1 })
      const full = yield* Effect.flip(actor.tryTell({ _tag: "Add", n: 1 }))
      assert.strictEqual(full._tag, "MailboxFull")
      const waiting = yield* Effect.forkChild(actor.tell({ _tag: "Add", n: 10 }))
      yield* Effect.yieldNow
      assert.isUndefined(waiting.pollUnsafe())
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(waiting)
      assert.strictEqual(yield* actor.ask<number>((reply) => ({ _tag: "Get", reply })), 12)
    }))

  it.effect("post: undefined once queued on a running actor, the start of an idle one, a wait when full, and a drop once stopped", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const actor = yield* counter(2).pipe(Scope.provide(scope))
      // Idle, from a fiber: its start is scheduled at once (as running the start effect would), nothing to run.
      assert.isUndefined(actor.post({ _tag: "Add", n: 1 }), "idle, from a fiber: started at once")
      assert.isFalse(actor.idle())
      const gate = yield* Deferred.make<void>()
      assert.isUndefined(actor.post({ _tag: "Block", until: gate }), "queued behind the first, the fiber is starting")
      yield* Effect.yieldNow
      assert.isUndefined(actor.post({ _tag: "Add", n: 2 }))
      assert.isUndefined(actor.post({ _tag: "Add", n: 3 }))
      const full = actor.post({ _tag: "Add", n: 10 })
      assert.isDefined(full, "full: the wait for room")
      const waiting = yield* Effect.forkChild(full ?? Effect.void)
      yield* Effect.yieldNow
      assert.isUndefined(waiting.pollUnsafe())
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(waiting)
      assert.strictEqual(yield* actor.ask<number>((reply) => ({ _tag: "Get", reply })), 16)
      yield* Scope.close(scope, Exit.void)
      assert.isUndefined(actor.post({ _tag: "Add", n: 1 }), "stopped: dropped, nothing to run")
    }))

  it.effect("closing the scope stops the actor and fails pending asks", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const actor = yield* counter().pipe(Scope.provide(scope))
      const gate = yield* Deferred.make<void>()
      const held = yield* Effect.forkChild(actor.ask<number>((reply) => ({ _tag: "Hold", reply })))
      yield* actor.tell({ _tag: "Block", until: gate })
      const queued = yield* Effect.forkChild(actor.ask<number>((reply) => ({ _tag: "Get", reply })))
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      const e1 = yield* Effect.flip(Fiber.join(held))
      const e2 = yield* Effect.flip(Fiber.join(queued))
      assert.strictEqual(e1._tag, "ActorStopped")
      assert.strictEqual(e2._tag, "ActorStopped")
      assert.isTrue(yield* actor.isDone)
      const e3 = yield* Effect.flip(actor.tell({ _tag: "Add", n: 1 }))
      assert.strictEqual(e3._tag, "ActorStopped")
      const e4 = yield* Effect.flip(actor.ask<number>((reply) => ({ _tag: "Get", reply })))
      assert.strictEqual(e4._tag, "ActorStopped")
      yield* actor.join // a stop is a clean end
    }))

  it.effect("a defect becomes ActorCrashed for pending asks and for join", () =>
    Effect.gen(function*() {
      const actor = yield* counter()
      const held = yield* Effect.forkChild(actor.ask<number>((reply) => ({ _tag: "Hold", reply })))
      yield* Effect.yieldNow
      yield* actor.tell({ _tag: "Crash" })
      const e = yield* Effect.flip(Fiber.join(held))
      assert.strictEqual(e._tag, "ActorCrashed")
      const j = yield* Effect.flip(actor.join)
      assert.strictEqual(j._tag, "ActorCrashed")
      if (j._tag === "ActorCrashed") assert.strictEqual(j.defect, "bug")
      const e2 = yield* Effect.flip(actor.ask<number>((reply) => ({ _tag: "Get", reply })))
      assert.strictEqual(e2._tag, "ActorStopped")
    }))

  it.effect("a typed failure stops the actor with that reason", () =>
    Effect.gen(function*() {
      const actor = yield* counter()
      yield* actor.tell({ _tag: "Fail" })
      const j = yield* Effect.flip(actor.join)
      assert.strictEqual(j._tag, "Boom")
      const e = yield* Effect.flip(actor.tell({ _tag: "Add", n: 1 }))
      assert.strictEqual(e._tag, "ActorStopped")
    }))

  it.effect("a tell waiting for room in a full mailbox fails when the actor stops", () =>
    Effect.gen(function*() {
      const actor = yield* counter(1)
      const never = yield* Deferred.make<void>()
      yield* actor.tell({ _tag: "Block", until: never })
      yield* Effect.yieldNow
      yield* actor.tell({ _tag: "Add", n: 1 }) // fills the mailbox
      const waiting = yield* Effect.forkChild(actor.tell({ _tag: "Add", n: 1 }))
      yield* Effect.yieldNow
      assert.isUndefined(waiting.pollUnsafe())
      yield* actor.stop
      assert.strictEqual((yield* Effect.flip(Fiber.join(waiting)))._tag, "ActorStopped")
    }))

  it.effect("a defect in onExit still ends the actor: join, stop and pending asks return", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make<{ readonly reply: Actor.Reply<number> }>({
        name: "bad-exit",
        capacity: 2,
        handle: () => Effect.void, // keeps every reply unanswered
        onExit: () => Effect.die("onExit bug")
      })
      const held = yield* Effect.forkChild(actor.ask<number>((reply) => ({ reply })))
      yield* Effect.yieldNow
      yield* actor.stop
      assert.strictEqual((yield* Effect.flip(Fiber.join(held)))._tag, "ActorStopped")
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(actor.join)))
      assert.isTrue(yield* actor.isDone)
    }))

  it.effect("stop interrupts a blocked handler and never waits for the outside world", () =>
    Effect.gen(function*() {
      const actor = yield* counter()
      const never = yield* Deferred.make<void>()
      yield* actor.tell({ _tag: "Block", until: never })
      const queued = yield* Effect.forkChild(actor.ask<number>((reply) => ({ _tag: "Get", reply })))
      yield* Effect.yieldNow
      yield* actor.stop
      assert.strictEqual((yield* Effect.flip(Fiber.join(queued)))._tag, "ActorStopped")
      yield* actor.stop // idempotent
      yield* TestClock.adjust("1 hour")
      assert.isTrue(yield* actor.isDone)
    }))

  it.effect("an idle actor has no fiber: a burst is handled by one fiber that ends with it, order kept across bursts", () =>
    Effect.gen(function*() {
      const seen: Array<readonly [number, number]> = []
      const actor = yield* Actor.make<{ readonly n: number; readonly reply?: Actor.Reply<void> }>({
        name: "bursts",
        capacity: 8,
        handle: (msg) =>
          Effect.flatMap(Effect.fiber, (fiber) => {
            seen.push([msg.n, fiber.id])
            return msg.reply === undefined ? Effect.void : Deferred.succeed(msg.reply, undefined)
          })
      })
      yield* actor.tell({ n: 1 })
      yield* actor.tell({ n: 2 })
      yield* actor.ask<void>((reply) => ({ n: 3, reply }))
      // The first burst is over: its fiber has ended (nothing runs while the mailbox is empty).
      for (let i = 0; i < 3; i++) yield* Effect.yieldNow
      yield* actor.ask<void>((reply) => ({ n: 4, reply }))
      assert.deepStrictEqual(seen.map(([n]) => n), [1, 2, 3, 4])
      const [f1, f2, f3, f4] = seen.map(([, id]) => id)
      assert.strictEqual(f1, f2)
      assert.strictEqual(f2, f3)
      assert.notStrictEqual(f3, f4)
      assert.isFalse(yield* actor.isDone)
    }))

  it.effect("a mailbox that never empties keeps its order (its handled prefix is dropped as it goes)", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const done = yield* Deferred.make<void>()
      let self: Actor.Actor<number> | undefined
      const actor: Actor.Actor<number> = yield* Actor.make<number>({
        name: "busy",
        capacity: 4,
        handle: (n) =>
          Effect.suspend(() => {
            seen.push(n)
            if (n === 3000) return Deferred.succeed(done, undefined)
            // One more for every one handled, up to 3000: the mailbox never empties, the drain never ends.
            return self === undefined ? Effect.void : Effect.ignore(self.tryTell(n + 1))
          })
      })
      self = actor
      yield* actor.tell(1)
      yield* Deferred.await(done)
      assert.strictEqual(seen.length, 3000)
      assert.isTrue(seen.every((n, i) => n === i + 1))
    }))
  it.effect("offerFromHandler queues behind the mailbox from the handler only (not when idle, full or stopped); idle says when nothing is queued or handled", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const offered: Array<boolean> = []
      const gate = yield* Deferred.make<void>()
      let self: Actor.Actor<string> | undefined
      const actor: Actor.Actor<string> = yield* Actor.make<string>({
        name: "self-offer",
        capacity: 3,
        handle: (m) =>
          Effect.suspend(() => {
            seen.push(m)
            if (m === "wait") return Deferred.await(gate)
            if (m !== "first" || self === undefined) return Effect.void
            // Room for one more behind "second" and "wait": the first offer is queued, the next one is refused (full).
            offered.push(self.offerFromHandler("offered"), self.offerFromHandler("refused"))
            return Effect.void
          })
      })
      self = actor
      assert.isTrue(actor.idle())
      // Not from a handler (no fiber running): refused, nothing queued.
      assert.isFalse(actor.offerFromHandler("outside"))
      yield* actor.tell("first")
      yield* actor.tell("second")
      assert.isFalse(actor.idle())
      yield* actor.tell("wait")
      // Let the drain run up to "wait" (which blocks): busy, so not idle.
      while (!seen.includes("wait")) yield* Effect.yieldNow
      assert.isFalse(actor.idle())
      yield* Deferred.succeed(gate, undefined)
      while (!actor.idle()) yield* Effect.yieldNow
      assert.deepStrictEqual(offered, [true, false])
      assert.deepStrictEqual(seen, ["first", "second", "wait", "offered"])
      yield* actor.stop
      assert.isFalse(actor.idle())
      assert.isFalse(actor.offerFromHandler("after stop"))
    }))
  it.effect("offer queues at once: nothing to run on a running actor, the fiber's start on an idle one (scheduled at once from a fiber), the wait for room when full, ActorStopped after a stop", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const actor = yield* Actor.make<string>({
        name: "offer",
        capacity: 2,
        handle: (m) =>
          Effect.suspend(() => {
            seen.push(m)
            return m === "wait" ? Deferred.await(gate) : Effect.void
          })
      })
      // Idle, from no fiber: queued now, but only the returned effect starts the fiber.
      const start = yield* Effect.promise(() => new Promise<Effect.Effect<void, Actor.ActorStopped> | undefined>((resolve) => setImmediate(() => resolve(actor.offer("wait")))))
      assert.isDefined(start)
      assert.strictEqual(actor.waiting(), 1)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(seen, [])
      if (start !== undefined) yield* start
      while (!seen.includes("wait")) yield* Effect.yieldNow
      // Running (blocked on "wait"): queued, nothing to run.
      assert.isUndefined(actor.offer("a"))
      assert.isUndefined(actor.offer("b"))
      // Full (capacity 2): nothing queued; the effect queues it when there is room (here: run after
      // the mailbox has drained, so it must not wait for a room that was freed before it asked).
      const full = actor.offer("c")
      assert.isDefined(full)
      assert.strictEqual(actor.waiting(), 2)
      const waiting = yield* Effect.forkChild(full ?? Effect.void)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(waiting)
      while (!actor.idle()) yield* Effect.yieldNow
      assert.deepStrictEqual(seen, ["wait", "a", "b", "c"])
      // Idle again, from this fiber: its start scheduled at once, nothing to run; handled once the task runs.
      assert.isUndefined(actor.offer("d"))
      assert.deepStrictEqual(seen, ["wait", "a", "b", "c"])
      while (!actor.idle()) yield* Effect.yieldNow
      assert.deepStrictEqual(seen, ["wait", "a", "b", "c", "d"])
      yield* actor.stop
      const stopped = actor.offer("late")
      assert.isDefined(stopped)
      const exit = yield* Effect.exit(stopped ?? Effect.void)
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(seen, ["wait", "a", "b", "c", "d"])
    }))
})
