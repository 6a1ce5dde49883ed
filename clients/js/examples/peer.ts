// A js-libp2p 3.x peer that joins an ergon node's swarm: it dials the node (TCP + noise +
// yamux), answers its `status` request, follows finalized blocks on the `blocks` gossip topic
// (each decoded with protobufjs from proto/ and its header hash checked), and, given --to and
// --amount, publishes a transfer signed here on the `txs` topic and waits until a gossiped
// block holds it. It prints one JSON object per line (`{"event": ...}`).
//
//   npm run build --prefix clients/js
//   node clients/js/dist/examples/peer.js --rpc http://127.0.0.1:8080 --blocks 3 \
//     --from bob --to ait136j5lm4xqfdyzygu0pw7x9j5egxhghs8fydzyx --amount 1.5AIT
//
// --rpc is used for the chain's genesis hash, the node's P2P address (unless --addr is
// given) and the sender's nonce and fee (unless --nonce and --fee are given); everything else
// goes over libp2p. --blocks N stops after N gossiped blocks (and the tx's block); 0, the
// default without --to, follows blocks until interrupted.

import './node20.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { Client, Keypair, SignedTx, Wire, blake3, fromHex, parseAmount, stringify, type GossipBlock } from '../src/index.js'

interface Args {
  rpc: string
  addr?: string
  blocks: number
  from: string
  to?: string
  amount?: string
  fee?: string
  nonce?: number
  timeoutMs: number
}

function parseArgs (argv: string[]): Args {
  const out: Args = { rpc: process.env.ERGON_RPC ?? 'http://127.0.0.1:8080', blocks: -1, from: 'bob', timeoutMs: 0 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = (): string => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--rpc': out.rpc = next(); break
      case '--addr': out.addr = next(); break
      case '--blocks': out.blocks = Number(next()); break
      case '--from': out.from = next(); break
      case '--to': out.to = next(); break
      case '--amount': out.amount = next(); break
      case '--fee': out.fee = next(); break
      case '--nonce': out.nonce = Number(next()); break
      case '--timeout-ms': out.timeoutMs = Number(next()); break
      case '-h': case '--help':
        process.stdout.write('usage: peer.js [--rpc URL] [--addr MULTIADDR] [--blocks N] [--from KEY --to ADDR --amount A [--fee F] [--nonce N]] [--timeout-ms MS]\n')
        process.exit(0)
      // falls through
      default: fail(`unknown argument ${a}`)
    }
  }
  if ((out.to == null) !== (out.amount == null)) fail('--to and --amount go together')
  if (out.blocks < 0) out.blocks = out.to == null ? 0 : 1
  return out
}

// A reader that went away (`peer.js | head`) ends the run quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? 0 : 1))

function emit (event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(stringify({ event, ...fields }) + '\n')
}

function fail (message: string): never {
  emit('error', { message })
  process.stderr.write(`peer: ${message}\n`)
  process.exit(1)
}

/** An error, or a rejection with an Event (a stream's `close`), as one line. */
function describe (e: any): string {
  if (e instanceof Error) return e.stack ?? e.message
  if (e?.type != null) return `stream event \`${e.type}\`${e.error != null ? `: ${describe(e.error)}` : ''}`
  return String(e)
}

/** Resolves with `pred()`'s value once it is truthy (checked every 100 ms). */
async function until<T> (what: string, pred: () => T | undefined | false, deadlineMs: number): Promise<T> {
  const started = Date.now()
  for (;;) {
    const v = pred()
    if (v) return v
    if (deadlineMs > 0 && Date.now() - started > deadlineMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** A secret key: a dev key name (alice, bob, ...) or 64 hex digits. */
const keyOf = (s: string): Keypair => (/^(0x)?[0-9a-fA-F]{64}$/.test(s) ? Keypair.fromHex(s) : Keypair.dev(s))

// Request-response streams carry one message each way: written, then closed; read to EOF.
async function readToEnd (stream: AsyncIterable<Uint8Array | { subarray: () => Uint8Array }>, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let total = 0
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    total += bytes.length
    if (total > max) throw new Error(`message over ${max} bytes`)
    parts.push(bytes)
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

const args = parseArgs(process.argv.slice(2))
let stage = 'start'
if (args.timeoutMs > 0) setTimeout(() => fail(`did not finish within ${args.timeoutMs} ms (at: ${stage})`), args.timeoutMs).unref()

// 1. From the node's RPC: the chain, and where to dial.
stage = 'asking the node over RPC'
const client = new Client(args.rpc)
const wire = new Wire()
let genesisHex: string
let target: string
try {
  genesisHex = await client.genesisHash()
  target = args.addr ?? ''
  if (target === '') {
    const net = await client.system_networkState()
    if (net == null) fail(`the node at ${args.rpc} runs without networking`)
    const addrs = net.listenAddresses.filter(a => a.includes('/tcp/'))
    const local = addrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? addrs[0]
    if (local == null) fail(`the node at ${args.rpc} listens on no TCP address: ${JSON.stringify(net.listenAddresses)}`)
    target = local.includes('/p2p/') ? local : `${local}/p2p/${net.peerId}`
  }
} catch (e) {
  fail(`${stage}: ${e instanceof Error ? e.message : String(e)}`)
}
const genesis = fromHex(genesisHex, 'genesis hash', 32)
const g = genesisHex.slice(2, 18)
const topics = { blocks: `/ergon/${g}/blocks`, txs: `/ergon/${g}/txs` }
const STATUS = '/ergon/status/1'
const MAX_MESSAGE = 1 << 20

// 2. The tx to publish, signed here.
let tx: SignedTx | undefined
if (args.to != null && args.amount != null) {
  stage = 'signing the tx'
  try {
    tx = await client.buildTransfer(keyOf(args.from), args.to, parseAmount(args.amount), { fee: args.fee, nonce: args.nonce })
  } catch (e) {
    fail(`${stage}: ${e instanceof Error ? e.message : String(e)}`)
  }
}

// 3. A libp2p node as ergon's swarm expects: gossip is unsigned (ValidationMode::Anonymous)
// and a message's id is the BLAKE3 hash of its data.
const node = await createLibp2p({
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    pubsub: gossipsub({
      globalSignaturePolicy: StrictNoSign,
      msgIdFn: (msg) => blake3(msg.data),
      emitSelf: false,
      maxInboundDataLength: MAX_MESSAGE + (16 << 10)
    })
  }
})
emit('started', { peerId: node.peerId.toString(), dialing: target, topics })

// The node asks every new peer for its status and hangs up on those that cannot answer: ours
// is a genesis-only status (head 0), so the node never asks us for blocks.
const Status = wire.type('Status')
const ourStatus = wire.encode('Status', { genesis_hash: genesis, head_height: 0, head_hash: genesis, finalized_height: 0, finalized_hash: genesis })
await node.handle(STATUS, async (stream) => {
  try {
    const theirs = Status.decode(await readToEnd(stream, 1024)) as unknown as { head_height: unknown }
    emit('status_served', { nodeHead: Number(String(theirs.head_height)) })
    if (!stream.send(ourStatus)) await stream.onDrain()
    await stream.close()
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)))
  }
})

// 4. Follow the topics.
const pubsub = node.services.pubsub
const blocks: GossipBlock[] = []
pubsub.addEventListener('message', (evt) => {
  const msg = evt.detail
  try {
    if (msg.topic === topics.blocks) {
      const b = wire.decodeCompactCommittedBlock(msg.data)
      if (b.hash !== b.commitHash) fail(`block ${b.height}: its header hashes to ${b.hash}, its commit names ${b.commitHash}`)
      blocks.push(b)
      emit('block', { height: b.height, hash: b.hash, txs: b.txHashes, signatures: b.commit.signatures, bytes: msg.data.length })
    } else if (msg.topic === topics.txs) {
      emit('txs', { hashes: wire.decodeTxBatch(msg.data).map(t => t.hashHex()) })
    }
  } catch (e) {
    emit('undecodable', { topic: msg.topic, message: e instanceof Error ? e.message : String(e) })
  }
})
pubsub.subscribe(topics.blocks)
pubsub.subscribe(topics.txs)

const stop = async (code: number): Promise<never> => {
  await Promise.race([Promise.resolve(node.stop()).catch(() => {}), new Promise(resolve => setTimeout(resolve, 5_000))])
  process.exit(code)
}
process.once('SIGINT', () => { void stop(0) })
process.once('SIGTERM', () => { void stop(0) })

try {
  // 5. Join: TCP, multistream-select, noise, yamux.
  stage = 'dial'
  const conn = await node.dial(multiaddr(target))
  const nodePeer = conn.remotePeer
  emit('connected', { peer: nodePeer.toString(), remoteAddr: conn.remoteAddr.toString() })

  // 6. Blocks on gossip.
  stage = 'following blocks'
  if (args.blocks > 0) await until(`${args.blocks} blocks by gossip`, () => blocks.length >= args.blocks, 0)

  // 7. Our tx on `txs`, once the node's subscription is known; then the block that holds it.
  if (tx != null) {
    stage = 'publishing the tx'
    await until('the node to subscribe to txs', () => pubsub.getSubscribers(topics.txs).some(p => p.equals(nodePeer)), 0)
    const published = await pubsub.publish(topics.txs, wire.encodeTxBatch([tx]))
    emit('published', { txHash: tx.hashHex(), tx: tx.toJson(), recipients: published.recipients.map(String) })
    stage = 'waiting for the tx in a block'
    const hash = tx.hashHex()
    const landed = await until('a gossiped block holding the tx', () => blocks.find(b => b.txHashes.includes(hash)), 0)
    emit('tx_in_block', { txHash: hash, height: landed.height, hash: landed.hash })
  }

  if (args.blocks === 0 && tx == null) {
    stage = 'following blocks (Ctrl-C stops)'
    await new Promise(() => {})
  }
  emit('done', { blocks: blocks.length, connection: conn.id })
} catch (e) {
  fail(`${stage}: ${describe(e)}`)
}
await stop(0)
