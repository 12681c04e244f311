import { Effect, Exit, Fiber } from "effect"
import * as Actor from "../src/actors/Actor.ts"
const prog = Effect.scoped(Effect.gen(function*() {
  const actor = yield* Actor.make<{ readonly reply: Actor.Reply<number> }>({
    name: "bad-exit", capacity: 2, handle: () => Effect.void,
    onExit: () => Effect.die("onExit bug")
  })
  const held = yield* Effect.forkChild(actor.ask<number>((reply) => ({ reply })))
  yield* Effect.yieldNow
  console.log("stopping")
  yield* actor.stop
  console.log("stopped")
  console.log((yield* Effect.flip(Fiber.join(held)))._tag)
  console.log(Exit.isSuccess(yield* Effect.exit(actor.join)))
}))
Effect.runPromise(prog.pipe(Effect.timeout("2 seconds"))).then(console.log, console.error)
