/**
 * From a scenario's channel specs to the list of channels to open, and from its workload's
 * pair spec to who pays whom: deterministic draws from the run's seed.
 */
import type { Rng } from "./Random.ts"
import type { Scenario } from "./Scenario.ts"

export interface PlannedChannel {
  readonly index: number
  /** The opener (funder). */
  readonly a: number
  readonly b: number
  readonly capacitySat: bigint
  readonly pushMsat: bigint
}

/** The channels a scenario asks for, in a fixed order (no self-channels, no duplicates of a pair). */
export const buildChannels = (rng: Rng, scenario: Scenario, size: number): ReadonlyArray<PlannedChannel> => {
  const out: Array<PlannedChannel> = []
  const pairs = new Set<number>()
  const degree = Array.from({ length: size }, () => 0)
  const add = (a: number, b: number, capacity: number, push: { readonly pushMsat?: number; readonly pushFraction?: number }): boolean => {
    if (a === b || a < 0 || b < 0 || a >= size || b >= size) return false
    const key = a < b ? a * size + b : b * size + a
    if (pairs.has(key)) return false
    pairs.add(key)
    degree[a]! += 1
    degree[b]! += 1
    const capacitySat = BigInt(Math.max(20_000, Math.round(capacity)))
    const pushMsat =
      push.pushMsat !== undefined
        ? BigInt(push.pushMsat)
        : push.pushFraction !== undefined
          ? (capacitySat * 1000n * BigInt(Math.round(push.pushFraction * 10_000))) / 10_000n
          : 0n
    out.push({ index: out.length, a, b, capacitySat, pushMsat })
    return true
  }
  for (const spec of scenario.channels) {
    switch (spec.kind) {
      case "channel":
        add(spec.a, spec.b, spec.capacitySat, spec)
        break
      case "ring":
        for (let i = 0; i < size; i++) add(i, (i + 1) % size, rng.sample(spec.capacitySat), spec)
        break
      case "random": {
        if (spec.connected === true) for (let i = 0; i < size; i++) add(i, (i + 1) % size, rng.sample(spec.capacitySat), spec)
        let made = 0
        for (let tries = 0; made < spec.count && tries < spec.count * 20; tries++)
          if (add(rng.int(size), rng.int(size), rng.sample(spec.capacitySat), spec)) made += 1
        break
      }
      case "hubs": {
        const hubs = Math.min(spec.hubs, size)
        for (let i = 0; i < hubs; i++)
          for (let j = i + 1; j < hubs; j++) add(i, j, rng.sample(spec.hubCapacitySat ?? spec.capacitySat), spec)
        for (let s = hubs; s < size; s++)
          for (let k = 0; k < Math.min(spec.perSpoke ?? 1, hubs); k++) {
            for (let tries = 0; tries < 10; tries++) if (add(s, rng.int(hubs), rng.sample(spec.capacitySat), spec)) break
          }
        break
      }
      case "scaleFree": {
        const m = spec.perNode
        const seedNodes = Math.min(size, m + 1)
        for (let i = 0; i < seedNodes; i++) for (let j = i + 1; j < seedNodes; j++) add(i, j, rng.sample(spec.capacitySat), spec)
        // Endpoints of every channel so far: picking one uniformly picks a node by degree.
        const ends: Array<number> = []
        for (const c of out) ends.push(c.a, c.b)
        for (let n = seedNodes; n < size; n++) {
          let made = 0
          for (let tries = 0; made < m && tries < m * 20; tries++) {
            const target = ends.length === 0 ? rng.int(n) : ends[rng.int(ends.length)]!
            if (add(n, target, rng.sample(spec.capacitySat), spec)) {
              ends.push(n, target)
              made += 1
            }
          }
        }
        break
      }
    }
  }
  return out
}

/** Who pays whom for one payment (payer != payee). */
export const choosePair = (rng: Rng, pairs: Scenario["workload"]["pairs"], size: number): readonly [number, number] => {
  switch (pairs.kind) {
    case "pairs":
      return rng.pick(pairs.pairs)
    case "uniform":
    case "hubs": {
      const payer = rng.int(size)
      let payee = pairs.kind === "hubs" && rng.chance(pairs.hubShare) ? rng.int(Math.min(pairs.hubs, size)) : rng.int(size)
      if (payee === payer) payee = (payer + 1 + rng.int(size - 1)) % size
      return [payer, payee]
    }
  }
}
