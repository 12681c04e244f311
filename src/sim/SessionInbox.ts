/**
 * A simulated node's inbox of session events: what the network delivers, as the stream the
 * node's `PeerManager` hands up (`sessionEvents`).
 *
 * An Effect `Queue` wakes its taker through the scheduler: one fiber task per delivered message
 * before the node even looks at it. Here a delivery resumes the waiting taker at once (a resumed
 * fiber runs on the caller's stack, as a completed `Deferred` resumes its waiters), so the node
 * takes the message inside the network's event, not in a task after it. The order is the same:
 * events are taken in the order offered, all that arrived while the taker was busy in one pull.
 * Unbounded, as the `Queue` it replaces (the simulation's links hold what is in flight).
 */
import { Effect, Stream } from "effect"
import { isArrayNonEmpty, type NonEmptyReadonlyArray } from "effect/Array"

export class SessionInbox<A> {
  /** Offered while no taker waited, in order. */
  private buffer: Array<A> = []
  /** Takers waiting, in order (one in practice: the node's channel manager). */
  private readonly takers: Array<(effect: Effect.Effect<NonEmptyReadonlyArray<A>>) => void> = []

  /** Everything waiting now, or a wait for the next offer. */
  private readonly take: Effect.Effect<NonEmptyReadonlyArray<A>> = Effect.callback<NonEmptyReadonlyArray<A>>((resume) => {
    const ready = this.drain()
    if (ready !== undefined) return resume(Effect.succeed(ready))
    this.takers.push(resume)
    return Effect.sync(() => {
      const i = this.takers.indexOf(resume)
      if (i >= 0) this.takers.splice(i, 1)
    })
  })

  /** The events as a stream (never ends; its fiber is interrupted with the node). */
  readonly stream: Stream.Stream<A> = Stream.fromPull(Effect.succeed(this.take))

  /** Delivers `event`: to a waiting taker at once, else kept for the next pull. */
  offer(event: A): void {
    const taker = this.takers.shift()
    if (taker === undefined) this.buffer.push(event)
    else taker(Effect.succeed([event]))
  }

  /** Events offered and not taken yet. */
  get size(): number {
    return this.buffer.length
  }

  private drain(): NonEmptyReadonlyArray<A> | undefined {
    const out = this.buffer
    if (!isArrayNonEmpty(out)) return undefined
    this.buffer = []
    return out
  }
}
