/**
 * Against a real `ergon node --dev` (tests/devnode.ts): read the head, blocks and the other
 * read methods; get new heads over the WebSocket subscription; sign a transfer here and see it
 * included with the exact balance changes and fee; chain nonces with account_nextNonce; send a
 * batch as protobuf hex; read the node's own error text; run the README's example; and see
 * what the client says when the node goes away.
 */

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  Client, Keypair, NodeUnavailable, RpcError, SignedTx, Tx, Wire, parseAmount, toHex, type HeadEvent
} from '../src/index.js'
import { DevNode, REPO, ergonBin } from './devnode.js'

const GENESIS_BALANCE = 1_000_000_000_000_000n // every dev account's, 1,000,000 AIT
const here = path.dirname(fileURLToPath(import.meta.url))

const { bin, why } = ergonBin()
const skip = bin == null ? why : undefined
let node: DevNode
let client: Client

before(async () => {
  if (bin == null) return
  node = await DevNode.start(bin)
  client = new Client(node.url, { timeoutMs: 30_000 })
})

after(async () => {
  if (node == null) return
  await node.stop()
})

test('head, blocks and the read methods', { skip }, async () => {
  const head = await client.chain_getHead()
  for (const k of ['height', 'hash', 'finalizedHeight', 'finalizedHash']) assert.ok(k in head, k)
  assert.ok(head.finalizedHeight <= head.height)
  const block = await client.chain_getBlock(head.height)
  assert.ok(block != null)
  assert.equal(block.hash, head.hash)
  assert.equal(block.header.height, head.height)
  assert.deepEqual(await client.chain_getBlock(block.hash), block, 'by hash as by height')
  assert.equal(await client.chain_getBlock(1e9), null, 'a future block is null')
  const genesis = await client.chain_getBlock(0)
  assert.equal(genesis?.hash, await client.genesisHash())

  const methods = await client.rpc_methods()
  for (const m of ['chain_getHead', 'chain_getBlock', 'account_get', 'account_nextNonce', 'tx_send', 'tx_get',
    'fee_estimate', 'system_health', 'economy_supply', 'job_get', 'job_list', 'receipt_get', 'staking_validators',
    'chain_subscribeNewHeads']) {
    assert.ok(methods.includes(m), m)
  }
  assert.equal((await client.system_health()).status, 'ok')
  assert.equal(await client.chainId(), 'ergon-dev')
  assert.equal(await client.hrp(), 'ait')
  assert.ok(BigInt((await client.economy_supply()).total) >= 7n * GENESIS_BALANCE)
  assert.ok('multiplier' in await client.economy_multiplier())
  assert.ok(typeof (await client.economy_params()) === 'object')
  assert.deepEqual(await client.job_list(), [])
  assert.deepEqual(await client.job_list({ status: 'open', limit: 5 }), [])
  assert.equal(await client.job_get('0x' + 'ab'.repeat(32)), null)
  const alice = Keypair.dev('alice').address()
  const validators = await client.staking_validators()
  assert.deepEqual(validators.validators.map((v: { address: string }) => v.address), [alice], 'the dev chain has one validator')
  assert.equal((await client.staking_get(alice)).validator, true)
  assert.ok('score' in await client.reputation_get(alice))
  const h = await client.headHeight()
  const reward = await client.chain_getBlockReward()
  assert.ok(reward.height > h, 'by default, the next block\'s')
  assert.ok(BigInt(reward.reward) > 0n)
  assert.equal((await client.chain_getBlockReward(1)).height, 1)

  const eve = Keypair.dev('eve').address()
  const acct = await client.account_get(eve)
  assert.equal(acct.address, eve)
  assert.equal(acct.balance, GENESIS_BALANCE.toString())
  assert.equal(await client.balance(eve), GENESIS_BALANCE)
  assert.deepEqual(await client.call('getBalance', eve), await client.callNamed('account_get', { address: eve }), 'alias, named params')
  const net = await client.system_networkState()
  assert.equal(net?.peerId, node.peerId)
})

test('new heads over the WebSocket subscription', { skip }, async () => {
  const h0 = await client.headHeight()
  const heads = await client.subscribeNewHeads({ timeoutMs: 30_000 })
  assert.ok(heads.id != null)
  const first = (await heads.next()).value as HeadEvent
  const second = (await heads.next()).value as HeadEvent
  heads.close()
  assert.equal((await heads.next()).done, true, 'a closed subscription ends')
  assert.ok(first.height > h0, `${first.height} > ${h0}`)
  assert.equal(second.height, first.height + 1)
  assert.equal(second.parentHash, first.hash)
  assert.equal((await client.chain_getBlock(second.height))?.hash, second.hash)

  // for await, and finalized heads (a dev chain finalizes every block).
  const got: HeadEvent[] = []
  for await (const head of await client.subscribeFinalizedHeads({ timeoutMs: 30_000 })) {
    got.push(head)
    if (got.length === 2) break
  }
  assert.equal(got[1].height, got[0].height + 1)
  assert.ok((await client.chain_getHead()).finalizedHeight >= got[1].height)
})

test('a transfer signed here is included with the exact amounts', { skip }, async () => {
  const dave = Keypair.dev('dave')
  const to = Keypair.generate().address() // a fresh account
  const amount = parseAmount('1.5AIT')
  const before = await client.account_get(dave.address())
  assert.equal(await client.balance(to), 0n)
  const nonce = await client.account_nextNonce(dave.address())
  assert.equal(nonce, before.nonce + 1)

  const signed = await client.buildTransfer(dave, to, '1.5AIT')
  assert.equal(signed.tx.nonce, nonce)
  const est = await client.fee_estimate(new Tx({ chainId: 'ergon-dev', sender: dave.publicKey, nonce, payload: { to, amount } }))
  assert.equal(BigInt(est.fee), signed.tx.fee)
  assert.ok(signed.tx.fee > 0n)
  assert.equal(est.breakdown.sizeBytes, signed.size(), 'the node counts the bytes encoded here')

  const txHash = await client.tx_send(signed) // checks the node's hash is the one signed here
  assert.equal(txHash, signed.hashHex())
  const st = await client.waitForTx(txHash)
  assert.equal(st.status, 'included', JSON.stringify(st))
  assert.equal(st.error, null)
  assert.deepEqual(st.tx, signed.toJson(), 'the node stored the tx exactly as signed')
  const block = await client.chain_getBlock(st.blockHeight!)
  assert.ok(block?.txs.includes(txHash))
  assert.equal(block?.hash, st.blockHash)
  if (block?.header.txCount === 1) assert.equal(block.header.txRoot, toHex(signed.leafHash()), 'one leaf is its own tx root')

  const after = await client.account_get(dave.address())
  assert.equal(BigInt(after.balance), BigInt(before.balance) - amount - signed.tx.fee)
  assert.equal(after.nonce, before.nonce + 1)
  assert.equal(await client.balance(to), amount)

  // The same tx again: the node refuses it, in its own words.
  await assert.rejects(client.tx_send(signed), (e: unknown) => {
    assert.ok(e instanceof RpcError, String(e))
    assert.equal(e.code, 1005)
    assert.match(e.message, /nonce/)
    assert.match(e.message, /too low/)
    return true
  })
})

test('back-to-back sends take their nonces from account_nextNonce', { skip }, async () => {
  const charlie = Keypair.dev('charlie')
  const [a, b] = [Keypair.generate().address(), Keypair.generate().address()]
  const committed = (await client.account_get(charlie.address())).nonce
  const first = await client.buildTransfer(charlie, a, 1000n)
  await client.tx_send(first)
  // Before the first is in a block, the next nonce counts it.
  const second = await client.buildTransfer(charlie, b, 2000n)
  assert.equal(second.tx.nonce, first.tx.nonce + 1)
  assert.equal(first.tx.nonce, committed + 1)
  await client.tx_send(second)
  for (const s of [first, second]) assert.equal((await client.waitForTx(s.hashHex())).status, 'included')
  assert.equal(await client.balance(a), 1000n)
  assert.equal(await client.balance(b), 2000n)
  assert.equal(await client.account_nextNonce(charlie.address()), committed + 3)
})

test('a batch sent as protobuf hex (and as bytes) lands', { skip }, async () => {
  const wire = new Wire()
  const ferdie = Keypair.dev('ferdie')
  const [a, b] = [Keypair.generate().address(), Keypair.generate().address()]
  const before = await client.balance(ferdie.address())
  const batch = await client.buildTx(ferdie, [{ to: a, amount: 7n }, { to: b, amount: '0.000000011AIT' }], { priority: 'high' })
  assert.equal(batch.tx.kind, 'BATCH')
  const hex = '0x' + Buffer.from(wire.encodeSignedTx(batch)).toString('hex')
  assert.equal(await client.tx_send(hex), batch.hashHex(), 'the node decodes the protobuf into the tx signed here')
  const st = await client.waitForTx(batch.hashHex())
  assert.equal(st.status, 'included', JSON.stringify(st))
  assert.deepEqual(st.tx, batch.toJson())
  assert.deepEqual(SignedTx.fromJson(st.tx!).encode(), batch.encode())
  assert.equal(await client.balance(a), 7n)
  assert.equal(await client.balance(b), 11n)
  assert.equal(await client.balance(ferdie.address()), before - 18n - batch.tx.fee)

  const single = await client.buildTransfer(ferdie, a, 3n)
  assert.equal(await client.tx_send(wire.encodeSignedTx(single)), single.hashHex(), 'protobuf bytes')
  assert.equal((await client.waitForTx(single.hashHex())).status, 'included')
  assert.equal(await client.balance(a), 10n)
})

test("the node's errors arrive with its code and wording", { skip }, async () => {
  await assert.rejects(client.account_get('ait1nope'), (e: unknown) => {
    assert.ok(e instanceof RpcError)
    assert.equal(e.code, -32602)
    assert.equal(e.message, 'param `address`: invalid address "ait1nope": not bech32')
    return true
  })
  await assert.rejects(client.call('chain_noSuchMethod'), (e: unknown) =>
    e instanceof RpcError && e.code === -32601 && /method not found/i.test(e.message))
  await assert.rejects(client.call('chain_subscribeNewHeads'), (e: unknown) =>
    e instanceof RpcError && e.code === 1023 && e.message.includes('WebSocket'))
  await assert.rejects(client.subscribe('chain_noSuchSubscription'), (e: unknown) =>
    e instanceof RpcError && e.code === -32601)

  // A fee one below the minimum: the node names the fee it requires.
  const ferdie = Keypair.dev('ferdie')
  const good = await client.buildTransfer(ferdie, Keypair.dev('eve').address(), 10n)
  const cheap = good.tx.withFee(good.tx.fee - 1n).sign(ferdie)
  await assert.rejects(client.tx_send(cheap), (e: unknown) =>
    e instanceof RpcError && e.code === 1004 && e.message.includes(String(good.tx.fee)))

  // A flipped signature bit.
  const sig = Uint8Array.from(good.signature)
  sig[0] ^= 1
  await assert.rejects(client.tx_send(new SignedTx(good.tx, sig)), (e: unknown) =>
    e instanceof RpcError && e.code === 1001 && e.message.includes('signature'))
  // Another chain's tx.
  const foreign = new Tx({ ...good.tx.fields(), chainId: 'ergon-other' }).sign(ferdie)
  await assert.rejects(client.tx_send(foreign), (e: unknown) => e instanceof RpcError && e.code === 1002)
  assert.equal((await client.tx_get(good.hashHex())).status, 'unknown', 'nothing was admitted')
})

test("the README's example is examples/quickstart.ts", () => {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## JavaScript client\n'))
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  assert.ok(block != null, 'the README has a ts block under "JavaScript client"')
  const example = readFileSync(path.join(here, '../../examples/quickstart.ts'), 'utf8')
  const lines = example.split('\n')
  const body = lines.slice(lines.findIndex(l => !l.startsWith('// '))).join('\n') // less its header comment
  assert.equal(block, body)
})

test("the README's example runs", { skip }, async () => {
  const run = promisify(execFile)
  const { stdout } = await run(process.execPath, [path.join(here, '../examples/quickstart.js')], {
    env: { ...process.env, ERGON_RPC: node.url },
    timeout: 90_000
  })
  const lines = stdout.trim().split('\n')
  assert.match(lines[0], /^head \d+$/)
  assert.match(lines[1], /^0x[0-9a-f]{64} fee \d+ charlie: [0-9.]+ AIT$/)
  assert.equal(lines[2], 'protobuf true')
  assert.match(lines[3], /^next block \d+$/)
  assert.equal(lines[4], '-32602 param `address`: invalid address "ait1nope": not bech32')
})

test('a node that goes away: the subscription ends with NodeUnavailable, then calls do too', { skip }, async () => {
  const heads = await client.subscribeNewHeads({ timeoutMs: 30_000 })
  await heads.next()
  await node.stop()
  await assert.rejects(async () => { for (;;) await heads.next() }, (e: unknown) =>
    e instanceof NodeUnavailable && e.message.includes('closed the chain_subscribeNewHeads subscription'))
  await assert.rejects(client.chain_getHead(), (e: unknown) =>
    e instanceof NodeUnavailable && e.message.includes('connection refused'))
})
