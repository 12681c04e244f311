/**
 * The simulation's one source of randomness: a seeded generator (SplitMix64 over a SHA-256 of
 * the seed and a stream label) and the distributions scenarios name. Every random choice of a
 * run (topology, amounts, who pays whom, latencies, faults) draws from a stream derived from
 * the run's seed, so one seed decides every byte; separate streams per purpose keep a change in
 * one (say, more payments) from shifting the draws of another (the topology).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import type { Distribution } from "./Scenario.ts"

const MASK = (1n << 64n) - 1n

/** A seeded pseudo-random stream (not cryptographic: for choices, never for keys). */
export class Rng {
  private state: bigint

  constructor(seed: string) {
    const h = sha256(new TextEncoder().encode(seed))
    let s = 0n
    for (let i = 0; i < 8; i++) s = (s << 8n) | BigInt(h[i]!)
    this.state = s
  }

  /** A derived, independent stream. */
  static of(seed: string, label: string): Rng {
    return new Rng(`${seed}/${label}`)
  }

  /** The next 64 random bits (SplitMix64). */
  nextU64(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK
    let z = this.state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK
    return z ^ (z >> 31n)
  }

  /** Uniform in [0, 1), 53 bits. */
  next(): number {
    return Number(this.nextU64() >> 11n) / 2 ** 53
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Uniform in [min, max]. */
  between(min: number, max: number): number {
    return min + (max - min) * this.next()
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next())
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next()
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  pick<A>(items: ReadonlyArray<A>): A {
    if (items.length === 0) throw new RangeError("pick from nothing")
    return items[this.int(items.length)]!
  }

  /** An index by weight. */
  weighted(weights: ReadonlyArray<number>): number {
    const total = weights.reduce((a, w) => a + w, 0)
    let x = this.next() * total
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!
      if (x < 0) return i
    }
    return weights.length - 1
  }

  /** A draw from a scenario distribution. */
  sample(d: Distribution): number {
    switch (d.kind) {
      case "constant":
        return d.value
      case "uniform":
        return this.between(d.min, d.max)
      case "exponential":
        return this.exponential(d.mean)
      case "normal":
        return Math.max(d.min ?? -Infinity, d.mean + d.stddev * this.normal())
      case "lognormal":
        return Math.min(d.max ?? Infinity, Math.max(d.min ?? 0, d.median * Math.exp(d.sigma * this.normal())))
      case "choice":
        return d.values[d.weights === undefined ? this.int(d.values.length) : this.weighted(d.weights)]!
    }
  }
}
