/**
 * Recording nodes: the pieces a program (a test, a simulation) uses to write a replayable trace.
 *
 * `makeRecording()` gives one memory sink, a counting scheduler and one gate for the whole
 * program; `recording.node(name)` the recorder of one node. Run the whole program under
 * `recording.scheduler` (`Effect.provideService(Scheduler.Scheduler, recording.scheduler)`),
 * build each node with `buildNode(recipe, recorder.world(real))`, give it commands through
 * `recorder.command` (each one held at the gate and written as a `command` record; a call
 * straight on `node.channels` would be an input the trace does not hold), and end with
 * `recording.stop`, which waits for quiescence and returns the records. With several nodes in one
 * process, every input of every node passes the one gate, so each node can be replayed alone.
 */
import { type Clock, Effect, type Exit } from "effect"
import { makeMemorySink, type MemoryTraceSink } from "../layers/trace/MemoryTrace.ts"
import { tracingClock, tracingEntropy, tracingPersister, tracingTransport } from "../layers/trace/Recording.ts"
import { Actors } from "../layers/trace/records.ts"
import { tracingBroadcaster, tracingChainSource } from "../layers/trace/ChainTrace.ts"
import type { BroadcasterShape } from "../services/Broadcaster.ts"
import type { ChainSourceShape } from "../services/ChainSource.ts"
import type { EntropyShape } from "../services/Entropy.ts"
import type { MonitorPersisterShape } from "../services/MonitorPersister.ts"
import { forNode, type TraceRecord, type TraceShape } from "../services/Trace.ts"
import type { TransportShape } from "../services/Transport.ts"
import { encodeCommand, type NodeCommand, type NodeWorld, type TracedNode } from "./node.ts"
import { type CountingScheduler, type Gate, makeCountingScheduler, makeGate } from "./Quiescence.ts"

/** The real services a recorded node runs over. */
export interface RealServices {
  readonly entropy: EntropyShape
  readonly clock: Clock.Clock
  readonly transport: TransportShape
  readonly persister: MonitorPersisterShape
  readonly chain?: ChainSourceShape
  readonly broadcaster?: BroadcasterShape
}

export interface NodeRecorder {
  readonly trace: TraceShape
  /** The recording wrappers over `real` (writes detached: the node never waits on real I/O). */
  readonly world: (real: RealServices) => NodeWorld
  /** Gives `node` a command, as an input of the trace; its result. */
  readonly command: (node: TracedNode, command: NodeCommand) => Effect.Effect<Exit.Exit<unknown, unknown>>
}

export interface Recording {
  readonly sink: MemoryTraceSink
  readonly scheduler: CountingScheduler
  readonly gate: Gate
  readonly node: (name: string) => NodeRecorder
  /** Waits for quiescence (holding the gate), stops recording and returns the trace. */
  readonly stop: Effect.Effect<ReadonlyArray<TraceRecord>>
}

export const makeRecording = (): Recording => {
  const sink = makeMemorySink()
  const scheduler = makeCountingScheduler()
  const gate = makeGate(scheduler)
  const node = (name: string): NodeRecorder => {
    const trace = forNode(sink, name)
    let commands = 0
    return {
      trace,
      world: (real) => ({
        trace,
        entropy: tracingEntropy(real.entropy, trace),
        clock: tracingClock(real.clock, trace, gate),
        transport: tracingTransport(real.transport, trace, gate, { detachWrites: true, clock: real.clock }),
        persister: tracingPersister(real.persister, trace, gate, real.clock),
        ...(real.chain === undefined ? {} : { chain: tracingChainSource(real.chain, trace, gate, real.clock) }),
        ...(real.broadcaster === undefined ? {} : { broadcaster: tracingBroadcaster(real.broadcaster, trace, gate, real.clock) })
      }),
      command: (target, command) =>
        Effect.suspend(() => {
          let n = -1
          return gate.deliver(Effect.void, () => {
            n = commands++
            trace.emit(Actors.node, "command", { n, command: encodeCommand(command) })
          }).pipe(Effect.flatMap(() => target.execute(command, n)))
        })
    }
  }
  return {
    sink,
    scheduler,
    gate,
    node,
    stop: gate.deliver(Effect.void, () => sink.close()).pipe(Effect.map(() => sink.records()))
  }
}
