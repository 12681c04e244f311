/**
 * What a simulation run returns: counts, fees, latencies in simulated time, force closes,
 * balances, invariant violations; and its text form (`formatSummary`, what `npm run sim`
 * prints). Amounts are strings of msat (JSON has no bigint).
 */
export interface Summary {
  readonly scenario: string
  readonly seed: string
  readonly nodes: number
  readonly channels: number
  readonly payments: {
    readonly attempted: number
    readonly succeeded: number
    readonly failed: number
    readonly failedByReason: Readonly<Record<string, number>>
    readonly amountSucceededMsat: string
    readonly feesPaidMsat: string
  }
  /** Successful payments, start to outcome, in simulated milliseconds. */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number }
  readonly forceCloses: ReadonlyArray<{ readonly channel: string; readonly node: number; readonly reason: string; readonly explained: boolean }>
  readonly faults: {
    readonly crashes: number
    readonly restarts: number
    readonly blocks: number
    readonly reorgs: number
    readonly messages: number
    readonly messageBytes: number
    readonly messagesLost: number
    readonly disconnects: number
  }
  readonly balances: ReadonlyArray<{ readonly node: number; readonly initialMsat: string; readonly finalMsat: string; readonly earnedMsat: string }>
  readonly channelList: ReadonlyArray<{ readonly a: number; readonly b: number; readonly capacitySat: number; readonly channelId: string; readonly balanceAMsat?: string }>
  /** Every payment: start and end in simulated ms from the workload's start. */
  readonly timeline: ReadonlyArray<{ readonly startMs: number; readonly endMs: number | undefined; readonly outcome: string; readonly amountMsat: number }>
  /** Channels whose two ends were compared at the end. */
  readonly channelsChecked: number
  readonly invariantViolations: ReadonlyArray<string>
  /** Facts that are not violations (HTLCs left to the chain after an explained force close...). */
  readonly notes: ReadonlyArray<string>
  /** Simulated seconds from the start of the workload to the end of the drain. */
  readonly simulatedSeconds: number
  readonly setupSeconds: number
  /** Events handled by the event loop, and fiber tasks run. */
  readonly events: number
  readonly tasks: number
}

/** The q-quantile of sorted numbers (nearest rank). */
export const percentile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

const sats = (msatString: string): string => (Number(BigInt(msatString) / 1000n)).toLocaleString("en-US")

/**
 * The summary as text (the parts a reader wants first; the rest is in the JSON). `wallSeconds`:
 * what the caller measured (the summary itself holds only what the seed decides).
 */
export const formatSummary = (s: Summary, wallSeconds?: number): string => {
  const lines: Array<string> = []
  const p = s.payments
  lines.push(`scenario ${s.scenario} (seed ${s.seed}): ${s.nodes} nodes, ${s.channels} channels`)
  lines.push(`payments: ${p.attempted} attempted, ${p.succeeded} succeeded, ${p.failed} failed`)
  for (const [reason, n] of Object.entries(p.failedByReason).sort((a, b) => b[1] - a[1])) lines.push(`  failed ${reason}: ${n}`)
  lines.push(`paid ${sats(p.amountSucceededMsat)} sat, fees ${sats(p.feesPaidMsat)} sat (${p.feesPaidMsat} msat)`)
  lines.push(`latency (simulated): p50 ${s.latencyMs.p50.toFixed(0)} ms, p90 ${s.latencyMs.p90.toFixed(0)} ms, p99 ${s.latencyMs.p99.toFixed(0)} ms, max ${s.latencyMs.max.toFixed(0)} ms`)
  const f = s.faults
  lines.push(
    `network: ${f.messages} messages (${(f.messageBytes / 1e6).toFixed(2)} MB), ${f.messagesLost} lost, ${f.disconnects} disconnects; ` +
      `crashes ${f.crashes}, restarts ${f.restarts}, blocks ${f.blocks}, reorgs ${f.reorgs}`
  )
  lines.push(`force closes: ${s.forceCloses.length}${s.forceCloses.length > 0 ? ` (${s.forceCloses.filter((c) => c.explained).length} explained by the faults)` : ""}`)
  lines.push(`time: setup ${s.setupSeconds.toFixed(1)} s + run ${s.simulatedSeconds.toFixed(1)} s simulated${wallSeconds === undefined ? "" : `, ${wallSeconds.toFixed(1)} s wall`}, ${s.events} events`)
  lines.push(`channels checked at the end: ${s.channelsChecked}`)
  for (const n of s.notes) lines.push(`note: ${n}`)
  if (s.invariantViolations.length === 0) lines.push("invariants: all hold")
  else {
    lines.push(`invariant violations: ${s.invariantViolations.length}`)
    for (const v of s.invariantViolations.slice(0, 20)) lines.push(`  ${v}`)
    if (s.invariantViolations.length > 20) lines.push(`  ... ${s.invariantViolations.length - 20} more`)
  }
  return lines.join("\n")
}
