/**
 * One self-contained HTML page for a simulation summary (`npm run sim -- FILE --report out.html`):
 * inline SVG only, no scripts or external files. Four pictures: the network (nodes sized by
 * capacity, on a circle; channels colored by where their balance ended, red = all on the
 * opener's side, blue = all on the other), payments over time (started, succeeded, failed per
 * time bucket), the latency histogram of successful payments, and the failure reasons.
 */
import type { Summary } from "./Summary.ts"

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const W = 640
const H = 320

const network = (s: Summary): string => {
  const n = s.nodes
  const capacity = Array.from({ length: n }, () => 0)
  for (const c of s.channelList) {
    capacity[c.a]! += c.capacitySat
    capacity[c.b]! += c.capacitySat
  }
  const max = Math.max(1, ...capacity)
  const size = 480
  const cx = size / 2
  const r = size / 2 - 30
  const pos = (i: number) => [cx + r * Math.cos((2 * Math.PI * i) / n), cx + r * Math.sin((2 * Math.PI * i) / n)] as const
  const balance = new Map(s.balances.map((b) => [b.node, b]))
  const lines = s.channelList.slice(0, 5000).map((c) => {
    const [x1, y1] = pos(c.a)
    const [x2, y2] = pos(c.b)
    const share = c.balanceAMsat === undefined ? 0.5 : Math.min(1, Math.max(0, Number(c.balanceAMsat) / (c.capacitySat * 1000)))
    const color = `rgb(${Math.round(255 * share)},80,${Math.round(255 * (1 - share))})`
    return `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${color}" stroke-opacity="0.6" stroke-width="1.5"><title>${c.a}-${c.b}: ${c.capacitySat} sat</title></line>`
  })
  const dots = capacity.slice(0, 5000).map((cap, i) => {
    const [x, y] = pos(i)
    const b = balance.get(i)
    return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${(2 + 10 * Math.sqrt(cap / max)).toFixed(1)}" fill="#333"><title>node ${i}: ${cap} sat of channels${b === undefined ? "" : `, ${b.finalMsat} msat ours, earned ${b.earnedMsat} msat`}</title></circle>`
  })
  return `<svg width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" xmlns="http://www.w3.org/2000/svg">${lines.join("")}${dots.join("")}</svg>`
}

const bars = (values: ReadonlyArray<number>, labels: ReadonlyArray<string>, color: string, title: string): string => {
  const max = Math.max(1, ...values)
  const bw = (W - 60) / Math.max(1, values.length)
  const rects = values.map((v, i) => {
    const h = ((H - 50) * v) / max
    return `<rect x="${(40 + i * bw).toFixed(1)}" y="${(H - 30 - h).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${esc(labels[i] ?? "")}: ${v}</title></rect>`
  })
  const step = Math.max(1, Math.ceil(labels.length / 8))
  const ticks = labels.map((l, i) => (i % step === 0 ? `<text x="${(40 + i * bw).toFixed(1)}" y="${H - 12}" font-size="10">${esc(l)}</text>` : "")).join("")
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg"><text x="40" y="14" font-size="12">${esc(title)} (max ${max})</text>${rects.join("")}${ticks}</svg>`
}

const overTime = (s: Summary): string => {
  const end = Math.max(1, ...s.timeline.map((p) => p.endMs ?? p.startMs))
  const buckets = 40
  const width = end / buckets
  const ok = Array.from({ length: buckets }, () => 0)
  const bad = Array.from({ length: buckets }, () => 0)
  for (const p of s.timeline) {
    if (p.endMs === undefined) continue
    const k = Math.min(buckets - 1, Math.floor(p.endMs / width))
    if (p.outcome === "succeeded") ok[k]! += 1
    else bad[k]! += 1
  }
  const max = Math.max(1, ...ok.map((v, i) => v + bad[i]!))
  const bw = (W - 60) / buckets
  const rects = ok.map((v, i) => {
    const h1 = ((H - 50) * v) / max
    const h2 = ((H - 50) * bad[i]!) / max
    const x = (40 + i * bw).toFixed(1)
    return `<rect x="${x}" y="${(H - 30 - h1).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h1.toFixed(1)}" fill="#2a7"><title>${v} succeeded</title></rect>` +
      `<rect x="${x}" y="${(H - 30 - h1 - h2).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h2.toFixed(1)}" fill="#c33"><title>${bad[i]} failed</title></rect>`
  })
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${(40 + f * (W - 60)).toFixed(1)}" y="${H - 12}" font-size="10">${((f * end) / 1000).toFixed(0)} s</text>`).join("")
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg"><text x="40" y="14" font-size="12">payment outcomes per ${(width / 1000).toFixed(1)} s of simulated time (green: succeeded, red: failed)</text>${rects.join("")}${ticks}</svg>`
}

const latency = (s: Summary): string => {
  const lat = s.timeline.filter((p) => p.outcome === "succeeded" && p.endMs !== undefined).map((p) => p.endMs! - p.startMs)
  const max = Math.max(1, ...lat)
  const buckets = 30
  const counts = Array.from({ length: buckets }, () => 0)
  for (const l of lat) counts[Math.min(buckets - 1, Math.floor((l / max) * buckets))]! += 1
  return bars(counts, counts.map((_, i) => `${Math.round((i * max) / buckets)} ms`), "#37a", "latency of successful payments, simulated ms")
}

const reasons = (s: Summary): string => {
  const entries = Object.entries(s.payments.failedByReason).sort((a, b) => b[1] - a[1])
  if (entries.length === 0) return "<p>No payment failed.</p>"
  return bars(entries.map((e) => e[1]), entries.map((e) => e[0]), "#c33", "failures by reason")
}

/** The HTML page for a summary (`wallSeconds`: what the caller measured, if it wants it shown). */
export const renderReport = (s: Summary, wallSeconds?: number): string => {
  const p = s.payments
  const rows: Array<[string, string]> = [
    ["nodes / channels", `${s.nodes} / ${s.channels}`],
    ["payments", `${p.attempted} attempted, ${p.succeeded} succeeded, ${p.failed} failed`],
    ["fees paid", `${p.feesPaidMsat} msat`],
    ["latency p50 / p90 / p99 (simulated)", `${s.latencyMs.p50} / ${s.latencyMs.p90} / ${s.latencyMs.p99} ms`],
    ["force closes", String(s.forceCloses.length)],
    ["crashes / restarts / blocks / reorgs", `${s.faults.crashes} / ${s.faults.restarts} / ${s.faults.blocks} / ${s.faults.reorgs}`],
    ["messages", `${s.faults.messages} (${s.faults.messageBytes} bytes), ${s.faults.messagesLost} lost, ${s.faults.disconnects} disconnects`],
    ["simulated time", `${s.simulatedSeconds.toFixed(1)} s${wallSeconds === undefined ? "" : ` (${wallSeconds.toFixed(1)} s wall)`}`],
    ["invariants", s.invariantViolations.length === 0 ? "all hold" : `${s.invariantViolations.length} violation(s)`]
  ]
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(s.scenario)} (seed ${esc(s.seed)})</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}td{padding:2px 12px}h2{margin-top:1.5em}</style></head>
<body><h1>Scenario ${esc(s.scenario)}, seed ${esc(s.seed)}</h1>
<table>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("")}</table>
${s.invariantViolations.length === 0 ? "" : `<h2>Invariant violations</h2><ul>${s.invariantViolations.slice(0, 100).map((v) => `<li>${esc(v)}</li>`).join("")}</ul>`}
<h2>The network</h2><p>Nodes sized by channel capacity; a channel is red when its balance ended on the opener's side, blue on the other.</p>${network(s)}
<h2>Payments over time</h2>${overTime(s)}
<h2>Latency</h2>${latency(s)}
<h2>Failure reasons</h2>${reasons(s)}
</body></html>
`
}
