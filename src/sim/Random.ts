/**
 * The simulation's one source of randomness: a seeded generator (SplitMix64 over a SHA-256 of
 * the seed and a stream label) and the distributions scenarios name. Every random choice of a
 * run (topology, amounts, who pays whom, latencies, faults) draws from a stream derived from
 * the run's seed, so one seed decides every byte; separate streams per purpose keep a change in
 * one (say, more payments) from shifting the draws of another (the topology).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import type { Distribution } from "./Scenario.ts"

/** The high 32 bits of the 64-bit product of two unsigned 32-bit integers (16-bit limbs: exact in doubles). */
const mulHigh = (a: number, b: number): number => {
  const a0 = a & 0xffff
  const a1 = a >>> 16
  const b0 = b & 0xffff
  const b1 = b >>> 16
  const p01 = a0 * b1
  const p10 = a1 * b0
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0
}

/**
 * A seeded pseudo-random stream (not cryptographic: for choices, never for keys). SplitMix64 on
 * two unsigned 32-bit halves (a BigInt per draw cost ~3x more; same numbers, property-tested
 * against the BigInt form).
 */
export class Rng {
  private hi: number
  private lo: number
  /** The halves of the last output (`nextU64`, `next`). */
  private zHi = 0
  private zLo = 0

  constructor(seed: string) {
    const h = sha256(new TextEncoder().encode(seed))
    this.hi = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0
    this.lo = ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0
  }

  /** A derived, independent stream. */
  static of(seed: string, label: string): Rng {
    return new Rng(`${seed}/${label}`)
  }

  /** One SplitMix64 step: the output's halves in `zHi`, `zLo`. */
  private step(): void {
    // state += 0x9e3779b97f4a7c15 (mod 2^64)
    const lo = (this.lo + 0x7f4a7c15) >>> 0
    this.hi = (this.hi + 0x9e3779b9 + (lo < 0x7f4a7c15 ? 1 : 0)) >>> 0
    this.lo = lo
    let hi = this.hi
    let l = lo
    // z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
    l = (l ^ ((l >>> 30) | (hi << 2))) >>> 0
    hi = (hi ^ (hi >>> 30)) >>> 0
    let nh = (mulHigh(l, 0x1ce4e5b9) + Math.imul(l, 0xbf58476d) + Math.imul(hi, 0x1ce4e5b9)) >>> 0
    l = Math.imul(l, 0x1ce4e5b9) >>> 0
    hi = nh
    // z = (z ^ (z >> 27)) * 0x94d049bb133111eb
    l = (l ^ ((l >>> 27) | (hi << 5))) >>> 0
    hi = (hi ^ (hi >>> 27)) >>> 0
    nh = (mulHigh(l, 0x133111eb) + Math.imul(l, 0x94d049bb) + Math.imul(hi, 0x133111eb)) >>> 0
    l = Math.imul(l, 0x133111eb) >>> 0
    hi = nh
    // z ^ (z >> 31)
    this.zLo = (l ^ ((l >>> 31) | (hi << 1))) >>> 0
    this.zHi = (hi ^ (hi >>> 31)) >>> 0
  }

  /** The next 64 random bits (SplitMix64). */
  nextU64(): bigint {
    this.step()
    return (BigInt(this.zHi) << 32n) | BigInt(this.zLo)
  }

  /** Uniform in [0, 1), 53 bits (the top 53 of the next 64). */
  next(): number {
    this.step()
    return (this.zHi * 2 ** 21 + (this.zLo >>> 11)) / 2 ** 53
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
