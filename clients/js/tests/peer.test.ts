/**
 * The js-libp2p peer example (examples/peer.ts) against a real `ergon node --dev`: it joins
 * the swarm, follows blocks on the `blocks` gossip topic (each the node's block at its height,
 * by hash and txs), and publishes a transfer signed here on `txs`, never sent over RPC, that
 * the node puts in a block.
 */

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Client, Keypair } from '../src/index.js'
import { DevNode, ergonBin } from './devnode.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const PEER = path.join(here, '../examples/peer.js')

const { bin, why } = ergonBin()
const skip = bin == null ? why : undefined
let node: DevNode
let client: Client

before(async () => {
  if (bin == null) return
  node = await DevNode.start(bin)
  client = new Client(node.url)
})

after(async () => {
  if (node != null) await node.stop()
})

type Event = Record<string, any> & { event: string }

/** Runs the example to its exit; its JSON lines, exit code and stderr. */
async function runPeer (args: string[], timeoutMs = 90_000): Promise<{ events: Event[], code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const events: Event[] = []
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line))
    } catch {
      events.push({ event: 'not-json', line })
    }
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  clearTimeout(timer)
  return { events, code, stderr }
}

function one (run: { events: Event[], stderr: string }, event: string): Event {
  const e = run.events.find(x => x.event === event)
  assert.ok(e != null, `the peer never reported ${event}:\n${run.events.map(x => JSON.stringify(x)).join('\n')}\n${run.stderr}`)
  return e
}

test('the peer example follows blocks on gossip and publishes a tx that lands', { skip }, async () => {
  const bob = Keypair.dev('bob')
  const to = Keypair.generate().address()
  const bobBefore = await client.account_get(bob.address())
  const run = await runPeer(['--rpc', node.url, '--blocks', '2', '--from', 'bob', '--to', to, '--amount', '31337', '--timeout-ms', '60000'])
  const log = run.events.map(x => JSON.stringify(x)).join('\n')
  assert.equal(run.code, 0, `the peer exited with ${run.code}:\n${log}\n${run.stderr}`)

  // It found the node's P2P address over RPC and joined.
  const started = one(run, 'started')
  assert.equal(started.dialing, node.p2pAddr, 'the address the node printed')
  assert.equal(one(run, 'connected').peer, node.peerId)
  assert.ok(one(run, 'status_served').nodeHead >= 0, 'it answered the node\'s status request')

  // Every block it decoded from gossip is the node's block at that height: same hash (computed
  // here from the header) and same txs.
  const blocks = run.events.filter(e => e.event === 'block')
  assert.ok(blocks.length >= 2, log)
  for (const b of blocks) {
    const ours = await client.chain_getBlock(b.height)
    assert.equal(b.hash, ours?.hash, `block ${b.height}`)
    assert.deepEqual(b.txs, ours?.txs, `block ${b.height} txs`)
    assert.ok(b.signatures >= 1)
  }

  // The tx it published on gossip (never over RPC) is in the block it saw it in.
  const published = one(run, 'published')
  assert.ok(published.recipients.includes(node.peerId), 'published to the node')
  assert.equal(published.tx.sender, bob.address())
  assert.equal(published.tx.nonce, bobBefore.nonce + 1)
  const landed = one(run, 'tx_in_block')
  assert.equal(landed.txHash, published.txHash)
  const st = await client.tx_get(landed.txHash)
  assert.equal(st.status, 'included', JSON.stringify(st))
  assert.equal(st.blockHeight, landed.height)
  assert.equal(st.blockHash, landed.hash)
  assert.deepEqual(st.tx, published.tx)
  assert.equal(await client.balance(to), 31337n)
  const bobAfter = await client.account_get(bob.address())
  assert.equal(BigInt(bobAfter.balance), BigInt(bobBefore.balance) - 31337n - BigInt(published.tx.fee))
  one(run, 'done')

  // The node took what the peer sent and rejected nothing.
  const gossip = (await client.system_networkState())!.gossip
  assert.ok(gossip.accepted >= 1, JSON.stringify(gossip))
  assert.equal(gossip.rejected, 0, JSON.stringify(gossip))
})

test('the peer example follows blocks from an address given with --addr', { skip }, async () => {
  const run = await runPeer(['--rpc', node.url, '--addr', node.p2pAddr, '--blocks', '2', '--timeout-ms', '60000'])
  const log = run.events.map(x => JSON.stringify(x)).join('\n')
  assert.equal(run.code, 0, `${log}\n${run.stderr}`)
  const blocks = run.events.filter(e => e.event === 'block')
  assert.ok(blocks.length >= 2, log)
  assert.ok(blocks[1].height > blocks[0].height, 'in order')
  for (const b of blocks) assert.equal(b.hash, (await client.chain_getBlock(b.height))?.hash)
  assert.equal(one(run, 'done').blocks, blocks.length)
})

test('the peer example says so when no node answers', async () => {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
  await new Promise(resolve => s.close(resolve)) // nothing listens there now
  const run = await runPeer(['--rpc', url, '--blocks', '1', '--timeout-ms', '20000'])
  assert.equal(run.code, 1)
  assert.equal(one(run, 'error').message,
    `asking the node over RPC: no ergon node answers at ${url} (connection refused); start one with \`ergon node --dev\``)
})
