/** What the client says when no node answers, or something else does. No node needed. */

import assert from 'node:assert/strict'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { after, test } from 'node:test'
import { Client, ErgonError, HttpError, NodeUnavailable } from '../src/index.js'

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as AddressInfo
  await new Promise(resolve => s.close(resolve))
  return port
}

async function listen (server: Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const servers: Server[] = []
after(() => { for (const s of servers) s.close() })

test('a node that is down is a clear NodeUnavailable, over HTTP and WebSocket', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`
  const c = new Client(url, { timeoutMs: 5_000 })
  await assert.rejects(c.chain_getHead(), (e: unknown) => {
    assert.ok(e instanceof NodeUnavailable && e instanceof ErgonError, String(e))
    assert.equal(e.message, `no ergon node answers at ${url} (connection refused); start one with \`ergon node --dev\``)
    assert.equal(e.url, url)
    return true
  })
  await assert.rejects(c.subscribeNewHeads(), (e: unknown) => {
    assert.ok(e instanceof NodeUnavailable, String(e))
    assert.match(e.message, /^no ergon node answers at ws:\/\/127\.0\.0\.1:\d+ \(connection refused\)/)
    return true
  })
})

test('a server that never answers: NodeUnavailable after the timeout', async () => {
  const sockets: Array<{ destroy: () => void }> = []
  const silent = createServer(s => { sockets.push(s) }) // accepts, reads nothing, says nothing
  const url = await listen(silent)
  const c = new Client(url, { timeoutMs: 300 })
  await assert.rejects(c.chain_getHead(), (e: unknown) =>
    e instanceof NodeUnavailable && e.message === `the node at ${url} did not answer chain_getHead within 0.3 s`)
  await assert.rejects(c.subscribeNewHeads(), NodeUnavailable)
  for (const s of sockets) s.destroy()
})

test('an HTTP refusal that is not JSON-RPC is an HttpError with its status and body', async () => {
  const refusing = createHttpServer((_req, res) => {
    res.writeHead(403, { 'content-type': 'text/plain' })
    res.end('Origin http://evil.example is not allowed: start the node with --rpc-cors')
  })
  const url = await listen(refusing)
  const c = new Client(url)
  await assert.rejects(c.chain_getHead(), (e: unknown) => {
    assert.ok(e instanceof HttpError, String(e))
    assert.equal(e.status, 403)
    assert.match(e.body, /--rpc-cors/)
    return true
  })
  await assert.rejects(c.subscribeNewHeads(), (e: unknown) => e instanceof HttpError && e.status === 403 && /--rpc-cors/.test(e.body))
})

test('a JSON-RPC error from any server keeps its code and wording', async () => {
  const { RpcError } = await import('../src/index.js')
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: 1004, message: 'fee 1 is below the required 3295' } }))
  })
  const c = new Client(await listen(server))
  await assert.rejects(c.call('tx_send', {}), (e: unknown) =>
    e instanceof RpcError && e.code === 1004 && e.message === 'fee 1 is below the required 3295')
})

test('creating a client opens no connection', () => {
  const c = new Client('http://127.0.0.1:9/')
  assert.equal(c.url, 'http://127.0.0.1:9')
  assert.equal(c.wsUrl, 'ws://127.0.0.1:9')
  assert.equal(new Client('wss://node.example').url, 'https://node.example')
})
