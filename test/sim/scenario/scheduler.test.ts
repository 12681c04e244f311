/**
 * `SimScheduler` keeps one bucket per priority between pumps (no map entry made and dropped per
 * batch): it must run tasks in exactly the order of the plain form below, which takes the lowest
 * priority's bucket out of its map as one batch and makes a new bucket for tasks scheduled
 * meanwhile. Programs of tasks that schedule more tasks at several priorities, and pump again
 * from inside a task, run through both.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { SimScheduler } from "../../../src/sim/index.ts"

/** The plain form: a bucket per priority with tasks, dropped from the map when its batch runs. */
class ReferenceScheduler {
  private readonly buckets = new Map<number, Array<() => void>>()
  private priorities: Array<number> = []
  tasksRun = 0

  schedule(task: () => void, priority: number): void {
    let bucket = this.buckets.get(priority)
    if (bucket === undefined) {
      bucket = []
      this.buckets.set(priority, bucket)
      this.priorities.push(priority)
      this.priorities.sort((a, b) => a - b)
    }
    bucket.push(task)
  }

  get busy(): boolean {
    return this.priorities.length > 0
  }

  pump(): void {
    while (this.priorities.length > 0) {
      const p = this.priorities[0]!
      const bucket = this.buckets.get(p)!
      this.buckets.delete(p)
      this.priorities.shift()
      for (let i = 0; i < bucket.length; i++) {
        this.tasksRun += 1
        bucket[i]!()
      }
    }
  }
}

/** What a task does when it runs: schedule task `id` at `priority`, or pump from inside. */
type Action = { readonly _tag: "schedule"; readonly id: number; readonly priority: number } | { readonly _tag: "pump" }

interface Program {
  /** Per task id, its actions (children have higher ids: no cycles). */
  readonly tasks: ReadonlyArray<ReadonlyArray<Action>>
  /** Rounds: root tasks scheduled from outside, then one pump. */
  readonly rounds: ReadonlyArray<ReadonlyArray<{ readonly id: number; readonly priority: number }>>
}

const priority = fc.integer({ min: -2, max: 2 })
const program: fc.Arbitrary<Program> = fc.integer({ min: 1, max: 40 }).chain((n) =>
  fc.record({
    tasks: fc.tuple(
      ...Array.from({ length: n }, (_, id) =>
        fc.array(
          id + 1 < n
            ? fc.oneof(
              { weight: 5, arbitrary: fc.record({ _tag: fc.constant("schedule" as const), id: fc.integer({ min: id + 1, max: n - 1 }), priority }) },
              { weight: 1, arbitrary: fc.constant({ _tag: "pump" as const }) }
            )
            : fc.constant({ _tag: "pump" as const }),
          { maxLength: 3 }
        ))
    ),
    rounds: fc.array(fc.array(fc.record({ id: fc.integer({ min: 0, max: n - 1 }), priority }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 5 })
  })
)

/** Runs a program through a scheduler's `schedule` and `pump`; the ids in the order they ran, and the state after each round. */
const trace = (prog: Program, schedule: (task: () => void, priority: number) => void, pump: () => void, state: () => string): Array<string> => {
  const out: Array<string> = []
  const task = (id: number, depth: number) => () => {
    out.push(`${id}`)
    for (const a of prog.tasks[id]!) {
      if (a._tag === "schedule") schedule(task(a.id, depth + 1), a.priority)
      else if (depth < 4) pump()
    }
  }
  for (const round of prog.rounds) {
    for (const r of round) schedule(task(r.id, 0), r.priority)
    pump()
    out.push(state())
  }
  return out
}

describe("SimScheduler", () => {
  it("runs tasks in the order of the plain bucket-per-batch form (priorities, tasks scheduling tasks, nested pumps)", () => {
    fc.assert(
      fc.property(program, (prog) => {
        const ref = new ReferenceScheduler()
        const expected = trace(prog, (t, p) => ref.schedule(t, p), () => ref.pump(), () => `busy=${ref.busy} run=${ref.tasksRun}`)
        const sim = new SimScheduler()
        const d = sim.makeDispatcher()
        const actual = trace(prog, (t, p) => d.scheduleTask(t, p), () => d.flush(), () => `busy=${sim.busy} run=${sim.tasksRun}`)
        expect(actual).toEqual(expected)
      }),
      { numRuns: 500 }
    )
  })

  it("a task scheduled during a batch at the batch's priority waits for a lower priority scheduled after it", () => {
    const sim = new SimScheduler()
    const d = sim.makeDispatcher()
    const seen: Array<string> = []
    d.scheduleTask(() => {
      seen.push("a")
      d.scheduleTask(() => seen.push("c"), 0)
      d.scheduleTask(() => seen.push("b"), -1)
    }, 0)
    expect(sim.busy).toBe(true)
    sim.pump()
    expect(seen).toEqual(["a", "b", "c"])
    expect(sim.busy).toBe(false)
    expect(sim.tasksRun).toBe(3)
  })
})
