// A js-libp2p peer that talks to one ergon node: an independent libp2p implementation
// (TCP + noise + yamux, identify, ping, gossipsub, the ergon request-response protocols).
// Run by tests/node/interop.rs; by hand:
//
//   node tests/interop/peer.mjs --addr /ip4/127.0.0.1/tcp/PORT/p2p/12D3KooW... \
//     --genesis 0x<genesis hash> --tx-batch <hex TxBatch> --tx-hash 0x<hash of its tx>
//
// It prints one JSON object per line on stdout (`{"event": ...}`) and exits 0 once every
// step passed, or 1 with `{"event":"error"}` and a message on stderr. With `--hold` it waits,
// still connected, until its stdin closes before it stops (so the caller can look at the node
// while the peer is there).

import './node20.mjs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { blake3 } from '@noble/hashes/blake3.js'
import { createLibp2p } from 'libp2p'
import protobuf from 'protobufjs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { readToEnd, writeAndClose } from './streams.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const protoRoot = path.resolve(here, '../../proto')

// ---------------------------------------------------------------------------------------------
// Arguments, output, failure
// ---------------------------------------------------------------------------------------------

function parseArgs (argv) {
  const out = { hold: false, timeoutMs: 60_000, bigHashes: 30_000, burst: 6 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--addr': out.addr = next(); break
      case '--genesis': out.genesis = next(); break
      case '--tx-batch': out.txBatch = next(); break
      case '--tx-hash': out.txHash = next(); break
      case '--timeout-ms': out.timeoutMs = Number(next()); break
      case '--big-hashes': out.bigHashes = Number(next()); break
      case '--burst': out.burst = Number(next()); break
      case '--hold': out.hold = true; break
      default: fail(`unknown argument ${a}`)
    }
  }
  for (const k of ['addr', 'genesis', 'txBatch', 'txHash']) {
    if (out[k] == null) fail(`missing --${k.replace(/[A-Z]/g, c => '-' + c.toLowerCase())}`)
  }
  return out
}

function emit (event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
}

function fail (message) {
  emit('error', { message })
  process.stderr.write(`interop peer: ${message}\n`)
  process.exit(1)
}

/** An error, or a rejection with an Event (a stream's `close`), as one line. */
function describe (e) {
  if (e instanceof Error) return e.stack ?? e.message
  if (e?.type != null) return `stream event \`${e.type}\`${e.error != null ? `: ${describe(e.error)}` : ''}`
  return String(e)
}

const hex = (bytes) => '0x' + Buffer.from(bytes).toString('hex')

function fromHex (s, what, len) {
  const h = s.startsWith('0x') ? s.slice(2) : s
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) fail(`${what} is not hex`)
  const b = new Uint8Array(Buffer.from(h, 'hex'))
  if (len != null && b.length !== len) fail(`${what} is ${b.length} bytes, not ${len}`)
  return b
}

/** A protobufjs uint64 (number or Long) as a number. */
const num = (v) => (typeof v === 'number' ? v : Number(v.toString()))

const equalBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])

/** Resolves with `pred()`'s value once it is truthy (checked every 100 ms). */
function until (what, pred, deadlineMs) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const tick = () => {
      let v
      try { v = pred() } catch (e) { return reject(e) }
      if (v) return resolve(v)
      if (Date.now() - started > deadlineMs) return reject(new Error(`timed out waiting for ${what}`))
      setTimeout(tick, 100)
    }
    tick()
  })
}

// ---------------------------------------------------------------------------------------------
// Wire: the node's own .proto files, loaded at run time
// ---------------------------------------------------------------------------------------------

const root = new protobuf.Root()
root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(protoRoot, target))
root.loadSync(['ergon/v1/types.proto', 'ergon/v1/network.proto'], { keepCase: true })
const T = (name) => root.lookupType(`ergon.v1.${name}`)
const Status = T('Status')
const SyncRequest = T('SyncRequest')
const SyncResponse = T('SyncResponse')
const CompactCommittedBlock = T('CompactCommittedBlock')
const TxBatch = T('TxBatch')

const encode = (type, value) => {
  const err = type.verify(value)
  if (err) fail(`${type.name}: ${err}`)
  return type.encode(type.create(value)).finish()
}

// ---------------------------------------------------------------------------------------------
// Request-response: one message per stream, written then closed; the answer is read to EOF
// ---------------------------------------------------------------------------------------------

/** A request on `conn` itself: were it closed, this fails rather than dialing again. */
async function request (conn, protocol, bytes, max) {
  const stream = await conn.newStream(protocol)
  await writeAndClose(stream, bytes)
  return readToEnd(stream, max)
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const args = parseArgs(process.argv.slice(2))
let stage = 'start'
const deadline = setTimeout(() => fail(`did not finish within ${args.timeoutMs} ms (at: ${stage})`), args.timeoutMs)
const step = Math.max(5_000, args.timeoutMs - 5_000)

const genesis = fromHex(args.genesis, '--genesis', 32)
const txBatch = fromHex(args.txBatch, '--tx-batch')
const txHash = fromHex(args.txHash, '--tx-hash', 32)
const ourTxs = TxBatch.decode(txBatch).txs
if (ourTxs.length !== 1) fail(`--tx-batch holds ${ourTxs.length} txs, expected 1`)
const g = Buffer.from(genesis.subarray(0, 8)).toString('hex')
const topics = { blocks: `/ergon/${g}/blocks`, txs: `/ergon/${g}/txs` }
const protocols = { status: '/ergon/status/1', sync: `/ergon/${g}/sync/1` }
const MAX_MESSAGE = 1 << 20

const target = multiaddr(args.addr)
const nodePeer = target.getComponents().find(c => c.name === 'p2p')?.value
if (nodePeer == null) fail(`--addr ${args.addr} has no /p2p/ peer id`)

const node = await createLibp2p({
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsub({
      // ergon's gossip is unsigned (ValidationMode::Anonymous) and a message's id is the
      // BLAKE3 hash of its data.
      globalSignaturePolicy: StrictNoSign,
      msgIdFn: (msg) => blake3(msg.data),
      emitSelf: false,
      maxInboundDataLength: MAX_MESSAGE + (16 << 10)
    })
  }
})
emit('started', { peerId: node.peerId.toString() })

// The node asks every new peer for its status and hangs up on those without a handler: ours
// is a genesis-only status (head 0).
const ourStatus = encode(Status, {
  genesis_hash: genesis,
  head_height: 0,
  head_hash: genesis,
  finalized_height: 0,
  finalized_hash: genesis
})
let statusServed = 0
await node.handle(protocols.status, async (stream) => {
  try {
    const req = Status.decode(await readToEnd(stream, 1024))
    statusServed++
    emit('status_served', {
      count: statusServed,
      genesisMatches: equalBytes(req.genesis_hash, genesis),
      nodeHead: num(req.head_height)
    })
    await writeAndClose(stream, ourStatus)
  } catch (e) {
    stream.abort(e)
    fail(`serving the node's status request: ${describe(e)}`)
  }
})

const pubsub = node.services.pubsub
const gossiped = [] // { height, hash, txHashes }
pubsub.addEventListener('message', (evt) => {
  const msg = evt.detail
  if (msg.topic !== topics.blocks) return
  let b
  try {
    b = CompactCommittedBlock.decode(msg.data)
  } catch (e) {
    fail(`undecodable CompactCommittedBlock on ${topics.blocks}: ${e.message}`)
  }
  const height = num(b.block.header.height)
  if (num(b.commit.height) !== height) fail(`gossiped block ${height} has a commit for ${num(b.commit.height)}`)
  const hashes = b.block.tx_hashes
  if (hashes.length !== 32 * b.block.header.tx_count) fail(`gossiped block ${height}: tx_hashes do not match tx_count`)
  const txHashes = []
  for (let i = 0; i < hashes.length; i += 32) txHashes.push(hashes.subarray(i, i + 32))
  gossiped.push({ height, hash: b.commit.block_hash, txHashes })
  emit('gossip_block', { height, hash: hex(b.commit.block_hash), txs: txHashes.length, bytes: msg.data.length })
})
pubsub.subscribe(topics.blocks)
pubsub.subscribe(topics.txs)

let identified
node.addEventListener('peer:identify', (evt) => {
  if (evt.detail.peerId.toString() === nodePeer) identified = evt.detail
})
let disconnected = false
node.addEventListener('peer:disconnect', (evt) => {
  if (evt.detail.toString() === nodePeer) {
    disconnected = true
    emit('disconnected', { peer: nodePeer })
  }
})

try {
  // 1. Dial: TCP, multistream-select, noise, yamux.
  stage = 'dial'
  const conn = await node.dial(target)
  const peer = conn.remotePeer
  emit('connected', { peer: peer.toString(), remoteAddr: conn.remoteAddr.toString() })

  // 2. Identify.
  stage = 'identify'
  const id = await until('identify', () => identified, step)
  emit('identify', {
    agentVersion: id.agentVersion,
    protocolVersion: id.protocolVersion,
    protocols: id.protocols
  })

  // 3. Ping.
  stage = 'ping'
  const rtt = await node.services.ping.ping(peer)
  emit('ping', { rttMs: rtt })

  // 4. Our status request: the node's head.
  stage = 'status request'
  const theirs = Status.decode(await request(conn, protocols.status, ourStatus, 1024))
  if (!equalBytes(theirs.genesis_hash, genesis)) fail(`the node's status names genesis ${hex(theirs.genesis_hash)}`)
  const head = num(theirs.head_height)
  emit('status', { head, headHash: hex(theirs.head_hash), finalized: num(theirs.finalized_height) })
  if (head < 1) fail('the node has no blocks yet')

  // 5. Sync: committed blocks 1..head in one request.
  stage = 'sync request'
  const resp = SyncResponse.decode(await request(
    conn, protocols.sync, encode(SyncRequest, { from_height: 1, count: head }), MAX_MESSAGE
  ))
  for (const cb of resp.blocks) {
    const h = num(cb.block.header.height)
    if (num(cb.commit.height) !== h) fail(`synced block ${h} has a commit for ${num(cb.commit.height)}`)
    emit('synced', { height: h, hash: hex(cb.commit.block_hash), txs: cb.block.txs.length })
  }
  emit('sync_done', { blocks: resp.blocks.length })

  // 6. Gossip in: two blocks on `blocks`.
  stage = 'gossip in'
  await until('two blocks by gossip', () => gossiped.length >= 2, step)

  // 7. Gossip out: the tx batch on `txs`, once the node's subscription is known.
  stage = 'gossip out'
  await until('the node to be subscribed to txs', () =>
    pubsub.getSubscribers(topics.txs).some(p => p.equals(peer)), step)
  const published = await pubsub.publish(topics.txs, txBatch)
  emit('published', { topic: topics.txs, recipients: published.recipients.map(String), bytes: txBatch.length })

  // 8. The block that holds it, as gossip tells.
  stage = 'waiting for the tx in a block'
  const landed = await until('a gossiped block holding our tx', () =>
    gossiped.find(b => b.txHashes.some(h => equalBytes(h, txHash))), step)
  emit('tx_in_block', { height: landed.height, hash: hex(landed.hash) })

  // 9. One large request (about 960 KB, over several yamux frames): that block's txs by
  // hash, ours first and then random hashes. The node answers with the txs it holds in the
  // order asked, stopping at the first it lacks: exactly ours.
  stage = 'large request'
  const hashes = new Uint8Array(32 * args.bigHashes)
  hashes.set(txHash, 0)
  hashes.set(randomBytes(32 * (args.bigHashes - 1)), 32)
  const big = encode(SyncRequest, { txs: { block_hash: landed.hash, height: landed.height, hashes, from_index: 0 } })
  const t0 = Date.now()
  const answer = await request(conn, protocols.sync, big, MAX_MESSAGE)
  const txs = SyncResponse.decode(answer).txs
  emit('big_request', { requestBytes: big.length, responseBytes: answer.length, txs: txs.length, ms: Date.now() - t0 })
  if (txs.length !== 1 || !equalBytes(txs[0].signature, ourTxs[0].signature)) {
    fail(`the large request's answer holds ${txs.length} txs, expected ours alone`)
  }

  // 10. A burst of large gossip: `--burst` messages on `txs`, each just under the 1 MiB
  // message limit, back to back on the one gossip stream (several MB in a row). js-yamux
  // sends frames as large as the window it was granted and rust-yamux refuses frames over
  // 1 MiB, so a node whose stream windows grew past 1 MiB dropped the connection here. Each
  // message is our tx, already in a block, repeated a different number of times (so each has
  // its own id): the node ignores them without blame.
  stage = 'gossip burst'
  const perTx = encode(TxBatch, { txs: [ourTxs[0]] }).length
  const most = Math.floor((MAX_MESSAGE - (16 << 10)) / perTx)
  let burstBytes = 0
  for (let k = 0; k < args.burst; k++) {
    const data = encode(TxBatch, { txs: new Array(most - k).fill(ourTxs[0]) })
    const sent = await pubsub.publish(topics.txs, data)
    if (!sent.recipients.some(p => p.equals(peer))) fail(`burst message ${k} was not sent to the node`)
    burstBytes += data.length
  }
  emit('burst', { messages: args.burst, bytes: burstBytes, largest: most * perTx })

  // 11. Still the one connection, and the node still talks on it.
  stage = 'connection check'
  const still = node.getConnections(peer)
  if (disconnected || !still.some(c => c.id === conn.id)) fail('the node dropped the connection')
  emit('ping', { rttMs: await node.services.ping.ping(peer) })
  emit('done', { statusServed, connection: conn.id })

  if (args.hold) {
    stage = 'holding the connection until stdin closes'
    process.stdin.resume()
    await new Promise(resolve => process.stdin.once('end', resolve).once('close', resolve))
    if (disconnected) fail('the node dropped the connection while we held it')
  }
} catch (e) {
  fail(`${stage}: ${describe(e)}`)
}
// Stopping is a courtesy to the node: it must not turn a pass into a failure.
clearTimeout(deadline)
await Promise.race([node.stop().catch(() => {}), new Promise(resolve => setTimeout(resolve, 5_000))])
process.exit(0)
