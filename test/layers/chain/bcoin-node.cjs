// A bcoin regtest full node (in memory) for the bitcoind layer's tests, run as a child process:
// node bcoin-node.cjs <httpPort> <apiKey>. Commands arrive as JSON lines on stdin, answers leave
// as JSON lines on stdout ({ ok, ... } or { error }). bcoin 1.0.2 needs NODE_BACKEND=js (set by the
// test) and the npm override leveldown 6.1.1 (package.json).
'use strict'
const bcoin = require('bcoin')
const readline = require('node:readline')

const [port, apiKey] = process.argv.slice(2)

/** A hash in display order (bcoin 1.0.2 keeps internal-order hex strings or buffers). */
const display = (h) => Buffer.from(typeof h === 'string' ? Buffer.from(h, 'hex') : h).reverse().toString('hex')

async function main() {
  const node = new bcoin.FullNode({
    network: 'regtest', memory: true, httpHost: '127.0.0.1', httpPort: Number(port), apiKey,
    workers: false, listen: false, logLevel: process.env.BCOIN_LOG || 'none', logConsole: true, indexTX: false
  })
  await node.open()
  const ring = bcoin.KeyRing.generate()
  const address = ring.getAddress()
  /** Coinbase coins of `ring` we have not spent yet: [{ tx, height }]. */
  const coinbases = []
  node.chain.on('connect', (entry, block) => {
    const cb = block.txs[0]
    if (cb.outputs[0].getAddress()?.equals(address)) coinbases.push({ tx: cb, height: entry.height })
  })
  node.chain.on('disconnect', (entry, block) => {
    const gone = block.txs[0].hash('hex')
    const i = coinbases.findIndex((c) => c.tx.hash('hex') === gone)
    if (i >= 0) coinbases.splice(i, 1)
  })
  let salt = 0
  const mineOn = async (tip, addr, n) => {
    const hashes = []
    for (let i = 0; i < n; i++) {
      const block = await node.miner.mineBlock(tip, addr)
      const entry = await node.chain.add(block)
      tip = entry || await node.chain.getEntry(block.hash('hex'))
      hashes.push(display(tip.hash))
    }
    return hashes
  }
  const handle = async (msg) => {
    switch (msg.cmd) {
      case 'mine':
        return { hashes: await mineOn(node.chain.tip, address, msg.n) }
      case 'fork': {
        // A competing branch from the block at `height`, mined to another key (different blocks).
        const base = await node.chain.getEntry(msg.height)
        const other = bcoin.KeyRing.generate().getAddress()
        return { hashes: await mineOn(base, other, msg.n) }
      }
      case 'pay': {
        // A signed transaction paying `value` sat to `script` (hex) from a mature coinbase, not broadcast.
        const height = node.chain.height
        const i = coinbases.findIndex((c) => height + 1 - c.height >= 100)
        if (i < 0) throw new Error('no mature coinbase')
        const [{ tx, height: h }] = coinbases.splice(i, 1)
        const mtx = new bcoin.MTX()
        mtx.addCoin(bcoin.Coin.fromTX(tx, 0, h))
        mtx.addOutput(bcoin.Script.fromRaw(Buffer.from(msg.script, 'hex')), msg.value)
        mtx.addOutput(address, tx.outputs[0].value - msg.value - 10000 - salt++)
        mtx.sign(ring)
        const signed = mtx.toTX()
        return { hex: signed.toRaw().toString('hex'), txid: display(signed.hash('hex')) }
      }
      case 'mempool':
        return { txids: node.mempool.getSnapshot().map(display) }
      case 'stop':
        await node.close()
        setImmediate(() => process.exit(0))
        return {}
      default:
        throw new Error(`unknown command ${msg.cmd}`)
    }
  }
  const rl = readline.createInterface({ input: process.stdin })
  let queue = Promise.resolve()
  rl.on('line', (line) => {
    queue = queue.then(async () => {
      try {
        const answer = await handle(JSON.parse(line))
        process.stdout.write(JSON.stringify({ ok: true, ...answer }) + '\n')
      } catch (e) {
        process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message || e) }) + '\n')
      }
    })
  })
  rl.on('close', () => node.close().finally(() => process.exit(0)))
  process.stdout.write(JSON.stringify({ ok: true, ready: true }) + '\n')
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.stack || e) }) + '\n')
  process.exit(1)
})
