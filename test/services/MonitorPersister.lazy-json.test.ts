/**
 * `LazyJson`: the value is computed when first asked for, once, and kept: from the encoder given
 * to the constructor (let go once it ran), or from a subclass's `compute` (its inputs let go in
 * `release`, once, after it ran).
 */
import { describe, expect, it } from "vitest"
import type { Schema } from "effect"
import { channelStateJson, LazyJson } from "../../src/services/MonitorPersister.ts"

class Counted extends LazyJson {
  computed = 0
  released = 0
  private input: string | undefined
  constructor(input: string) {
    super()
    this.input = input
  }
  protected override compute(): Schema.Json {
    this.computed++
    return { input: this.input ?? "released too early" }
  }
  protected override release(): void {
    this.released++
    this.input = undefined
  }
}

describe("LazyJson", () => {
  it("runs its encoder when first asked, once; a JSON null value is kept too", () => {
    let runs = 0
    const lazy = new LazyJson(() => {
      runs++
      return runs === 1 ? null : "again"
    })
    expect(runs).toBe(0)
    expect(lazy.value).toBe(null)
    expect(lazy.value).toBe(null)
    expect(channelStateJson(lazy)).toBe(null)
    expect(runs).toBe(1)
  })

  it("a subclass computes from its fields once, then releases them once", () => {
    const lazy = new Counted("state")
    expect(lazy.computed).toBe(0)
    const value = channelStateJson(lazy)
    expect(value).toEqual({ input: "state" })
    expect(lazy.value).toBe(value)
    expect([lazy.computed, lazy.released]).toEqual([1, 1])
  })
})
