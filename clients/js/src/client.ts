/**
 * A JSON-RPC client for an `ergon` node: calls over HTTP (fetch) and subscriptions over a
 * WebSocket (the `ws` package: Node.js 20 has no WebSocket of its own). Nothing touches the
 * network until a method is called.
 */

import WebSocket from 'ws'
import { parseAmount } from './amount.js'
import { ErgonError, HttpError, NodeUnavailable, RpcError } from './errors.js'
import { Keypair } from './keys.js'
import { SignedTx, Tx, type Priority, type Transfer, type TxJson } from './tx.js'
import type {
  Account, BlockJson, ChainSpecReply, FeeEstimate, Head, HeadEvent, Health, HistoryFilter, JobFilter, Json,
  NetworkState, Supply, TxStatus
} from './types.js'

/** What `tx_send` takes: a signed tx, its JSON form, protobuf `SignedTx` bytes or their hex. */
export type TxLike = SignedTx | TxJson | Uint8Array | string

/** What `fee_estimate` takes: the same, or an unsigned tx (its fee, nonce and signature need not be set). */
export type TxToPrice = TxLike | Tx

export interface ClientOptions {
  /** How long one call may take before `NodeUnavailable` (default 30 s). */
  timeoutMs?: number
}

export interface TransferOptions {
  /** Default: `fee_estimate`'s. */
  fee?: bigint | number | string
  /** Default: `account_nextNonce`'s. */
  nonce?: number
  priority?: Priority
}

export interface SubscriptionOptions {
  /** How long `next()` waits for an item before it throws a `TimeoutError` (default: forever). */
  timeoutMs?: number
}

const toWsUrl = (url: string): string => url.replace(/^https:\/\//, 'wss://').replace(/^http:\/\//, 'ws://')
const toHttpUrl = (url: string): string => url.replace(/^wss:\/\//, 'https://').replace(/^ws:\/\//, 'http://')

/** JSON that carries bigints as decimal strings (the node takes amounts as strings). */
export const stringify = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))

function txParam (tx: TxToPrice): unknown {
  if (tx instanceof SignedTx || tx instanceof Tx) return tx.toJson()
  if (tx instanceof Uint8Array) return Buffer.from(tx).toString('hex') // a protobuf SignedTx
  return tx // the JSON form, or hex of a protobuf SignedTx
}

function unwrap (reply: any, what: string): any {
  if (reply == null || typeof reply !== 'object' || (!('result' in reply) && !('error' in reply))) {
    throw new ErgonError(`${what}: not a JSON-RPC reply: ${JSON.stringify(reply)}`.slice(0, 500))
  }
  if (reply.error != null) {
    const e = reply.error
    throw new RpcError(Number(e.code ?? 0), String(e.message ?? ''), e.data ?? undefined)
  }
  return reply.result
}

/** Why a connection failed, in a few words ("connection refused"). */
function reason (e: unknown): string {
  const codes: string[] = []
  const walk = (x: any, depth: number): void => {
    if (x == null || depth > 4) return
    if (typeof x.code === 'string') codes.push(x.code)
    if (Array.isArray(x.errors)) for (const y of x.errors) walk(y, depth + 1)
    walk(x.cause, depth + 1)
  }
  walk(e, 0)
  if (codes.includes('ECONNREFUSED')) return 'connection refused'
  if (codes.includes('ENOTFOUND')) return 'host not found'
  if (codes.includes('ECONNRESET')) return 'connection reset'
  const err = e as any
  return String(err?.cause?.message ?? err?.message ?? err)
}

const downMessage = (url: string, e: unknown): string =>
  `no ergon node answers at ${url} (${reason(e)}); start one with \`ergon node --dev\``

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/**
 * `new Client("http://127.0.0.1:8080")`: typed methods named as the node's RPC methods, and
 * `call` for any other.
 *
 * Errors: `RpcError` (code and message as the node worded them), `NodeUnavailable` when no
 * node answers, `HttpError` for an HTTP refusal that is not JSON-RPC (e.g. 403).
 */
export class Client {
  readonly url: string
  readonly wsUrl: string
  readonly timeoutMs: number
  #id = 0
  #spec?: Promise<ChainSpecReply>

  constructor (url = 'http://127.0.0.1:8080', options: ClientOptions = {}) {
    this.url = toHttpUrl(url.replace(/\/+$/, ''))
    this.wsUrl = toWsUrl(this.url)
    this.timeoutMs = options.timeoutMs ?? 30_000
  }

  // -- generic ---------------------------------------------------------------------------------

  /** Calls `method` with positional params; resolves with its `result`. */
  async call<T = any>(method: string, ...params: unknown[]): Promise<T> {
    return await this.request<T>(method, params)
  }

  /** Calls `method` with named params. */
  async callNamed<T = any>(method: string, params: Record<string, unknown>): Promise<T> {
    return await this.request<T>(method, params)
  }

  private async request<T>(method: string, params: unknown[] | Record<string, unknown>): Promise<T> {
    const body = stringify({ jsonrpc: '2.0', id: ++this.#id, method, params })
    let resp: Response
    let text: string
    try {
      resp = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs)
      })
      text = await resp.text()
    } catch (e: any) {
      if (e?.name === 'TimeoutError') {
        throw new NodeUnavailable(this.url, `the node at ${this.url} did not answer ${method} within ${this.timeoutMs / 1000} s`, { cause: e })
      }
      throw new NodeUnavailable(this.url, downMessage(this.url, e), { cause: e })
    }
    let reply: any
    try {
      reply = JSON.parse(text)
    } catch {
      throw new HttpError(resp.status, text, this.url)
    }
    if (resp.status !== 200 && !(reply != null && typeof reply === 'object' && 'error' in reply)) {
      throw new HttpError(resp.status, text, this.url)
    }
    return unwrap(reply, method) as T
  }

  // -- chain -----------------------------------------------------------------------------------

  /** `{height, hash, finalizedHeight, finalizedHash}`. */
  async chain_getHead (): Promise<Head> {
    return await this.call('chain_getHead')
  }

  async headHeight (): Promise<number> {
    return (await this.chain_getHead()).height
  }

  /** The block (header, tx hashes, commit) at a height or with a hash; `null` if the node has none. */
  async chain_getBlock (heightOrHash: number | string): Promise<BlockJson | null> {
    return await this.call('chain_getBlock', heightOrHash)
  }

  /** `{height, reward, symbol}`: the block reward at `height` (default: the next block). */
  async chain_getBlockReward (height?: number): Promise<{ height: number, reward: string, symbol: string }> {
    return await (height == null ? this.call('chain_getBlockReward') : this.call('chain_getBlockReward', height))
  }

  async rpc_methods (): Promise<string[]> {
    return (await this.call<{ methods: string[] }>('rpc_methods')).methods
  }

  async system_health (): Promise<Health> {
    return await this.call('system_health')
  }

  async system_version (): Promise<Json> {
    return await this.call('system_version')
  }

  async system_peers (): Promise<Json[]> {
    return await this.call('system_peers')
  }

  /** The node's peer id, listen addresses and gossip counters; `null` for a node without networking. */
  async system_networkState (): Promise<NetworkState | null> {
    return await this.call('system_networkState')
  }

  /** `{chainSpec, genesisHash}` (asked once: a node's spec does not change while it runs). */
  async system_chainSpec (): Promise<ChainSpecReply> {
    if (this.#spec == null) {
      this.#spec = this.call<ChainSpecReply>('system_chainSpec')
      this.#spec.catch(() => { this.#spec = undefined })
    }
    return await this.#spec
  }

  async chainId (): Promise<string> {
    return (await this.system_chainSpec()).chainSpec.chain_id
  }

  /** The chain's address prefix (`ait`). */
  async hrp (): Promise<string> {
    return (await this.system_chainSpec()).chainSpec.token.hrp
  }

  async genesisHash (): Promise<string> {
    return (await this.system_chainSpec()).genesisHash
  }

  // -- accounts --------------------------------------------------------------------------------

  /** `{address, balance, nonce, reserved, pending, staked, delegated, unbonding, unbondingEntries}`. */
  async account_get (address: string): Promise<Account> {
    return await this.call('account_get', address)
  }

  /** The account's available balance in base units. */
  async balance (address: string): Promise<bigint> {
    return BigInt((await this.account_get(address)).balance)
  }

  /** The nonce the account's next tx must carry, its pending txs counted. */
  async account_nextNonce (address: string): Promise<number> {
    return (await this.call<{ address: string, nonce: number }>('account_nextNonce', address)).nonce
  }

  /** `{address, events: [{height, cause, txHash, txIndex, changes, after}], more}`. */
  async account_history (address: string, filter: HistoryFilter = {}): Promise<Json> {
    return await this.call('account_history', address, filter)
  }

  async state_getProof (address: string, height?: number): Promise<Json> {
    return await (height == null ? this.call('state_getProof', address) : this.call('state_getProof', address, height))
  }

  // -- transactions ----------------------------------------------------------------------------

  /**
   * Submits a signed tx (a `SignedTx`, its JSON form, or protobuf `SignedTx` bytes or hex);
   * resolves with its hash. For a `SignedTx` the node's hash must be the one signed here.
   */
  async tx_send (tx: TxLike): Promise<string> {
    const { txHash } = await this.call<{ txHash: string }>('tx_send', txParam(tx))
    if (tx instanceof SignedTx && txHash !== tx.hashHex()) {
      throw new ErgonError(`the node hashed the tx as ${txHash}, this client as ${tx.hashHex()}`)
    }
    return txHash
  }

  /** `{status: pending|included|failed|unknown, blockHeight, blockHash, index, error, tx}`. */
  async tx_get (txHash: string): Promise<TxStatus> {
    return await this.call('tx_get', txHash)
  }

  /** `{fee, breakdown}`: the fee the node requires for a tx. */
  async fee_estimate (tx: TxToPrice): Promise<FeeEstimate> {
    return await this.call('fee_estimate', txParam(tx))
  }

  /** Polls `tx_get` until the tx is in a block (`included` or `failed`). */
  async waitForTx (txHash: string, timeoutMs = 60_000, pollMs = 200): Promise<TxStatus> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const st = await this.tx_get(txHash)
      if (st.status === 'included' || st.status === 'failed') return st
      if (Date.now() >= deadline) throw new ErgonError(`tx ${txHash} is not in a block after ${timeoutMs / 1000} s: ${JSON.stringify(st)}`)
      await sleep(pollMs)
    }
  }

  /**
   * A `TRANSFER` (one transfer) or `BATCH` (a list) signed here with `key`: the nonce from
   * `account_nextNonce` and the fee from `fee_estimate` unless given.
   */
  async buildTx (key: Keypair, payload: Transfer | Transfer[], options: TransferOptions = {}): Promise<SignedTx> {
    const [chainId, hrp] = [await this.chainId(), await this.hrp()]
    const nonce = options.nonce ?? await this.account_nextNonce(key.address(hrp))
    let tx = new Tx({ chainId, sender: key.publicKey, nonce, fee: 0n, payload, priority: options.priority, hrp })
    tx = tx.withFee(options.fee ?? BigInt((await this.fee_estimate(tx)).fee))
    return tx.sign(key)
  }

  /** A `TRANSFER` of `amount` (base units, or tokens as `parseAmount` reads them) signed here. */
  async buildTransfer (key: Keypair, to: string, amount: bigint | number | string, options: TransferOptions = {}): Promise<SignedTx> {
    return await this.buildTx(key, { to, amount: parseAmount(amount) }, options)
  }

  /**
   * `buildTransfer`, then `tx_send`; with `wait`, also waits for its block (and throws
   * `ErgonError` if the tx failed there).
   */
  async transfer (key: Keypair, to: string, amount: bigint | number | string, options: TransferOptions & { wait?: boolean } = {}): Promise<SignedTx> {
    const signed = await this.buildTransfer(key, to, amount, options)
    await this.tx_send(signed)
    if (options.wait === true) {
      const st = await this.waitForTx(signed.hashHex())
      if (st.status !== 'included') throw new ErgonError(`tx ${signed.hashHex()} failed in block ${st.blockHeight}: ${st.error}`)
    }
    return signed
  }

  // -- the compute economy ---------------------------------------------------------------------

  /** The job, or `null` if there is none with this id. */
  async job_get (jobId: string): Promise<Json | null> {
    return await this.call('job_get', jobId)
  }

  /** Jobs, filtered by status (open, completed, settled, ...), client or coordinator. */
  async job_list (filter: JobFilter = {}): Promise<Json[]> {
    return await this.call('job_list', filter)
  }

  async receipt_get (receiptId: string): Promise<Json | null> {
    return await this.call('receipt_get', receiptId)
  }

  async economy_supply (): Promise<Supply> {
    return await this.call('economy_supply')
  }

  async economy_params (): Promise<Json> {
    return await this.call('economy_params')
  }

  /** `{multiplier, multiplierWad, tier, networkHours, verifiedUnits}`. */
  async economy_multiplier (): Promise<Json> {
    return await this.call('economy_multiplier')
  }

  /** `{validators: [{address, consensusKey, stake, weight, power, ...}], totalPower, candidates, jailed, ...}`. */
  async staking_validators (): Promise<Json> {
    return await this.call('staking_validators')
  }

  async staking_get (address: string): Promise<Json> {
    return await this.call('staking_get', address)
  }

  async reputation_get (address: string): Promise<Json> {
    return await this.call('reputation_get', address)
  }

  // -- subscriptions (WebSocket) ---------------------------------------------------------------

  /**
   * New heads as they are committed (`chain_subscribeNewHeads`): `for await (const head of
   * sub)`, or `await sub.next()`; `sub.close()` when done. Resolves once the node accepted the
   * subscription, so a down node or a refused method rejects here.
   */
  async subscribeNewHeads (options: SubscriptionOptions = {}): Promise<Subscription<HeadEvent>> {
    return await this.subscribe<HeadEvent>('chain_subscribeNewHeads', [], options)
  }

  /** Finalized heads as they are finalized (`chain_subscribeFinalizedHeads`). */
  async subscribeFinalizedHeads (options: SubscriptionOptions = {}): Promise<Subscription<HeadEvent>> {
    return await this.subscribe<HeadEvent>('chain_subscribeFinalizedHeads', [], options)
  }

  async subscribe<T = unknown>(method: string, params: unknown[] = [], options: SubscriptionOptions = {}): Promise<Subscription<T>> {
    return await Subscription.open<T>(this.wsUrl, method, params, options.timeoutMs, this.timeoutMs)
  }
}

/** A `next()` that waited longer than the subscription's `timeoutMs`. */
export class TimeoutError extends ErgonError {}

type Waiter<T> = { resolve: (r: IteratorResult<T>) => void, reject: (e: unknown) => void, timer?: ReturnType<typeof setTimeout> }

/** A WebSocket subscription: an async iterator of its notifications. */
export class Subscription<T> implements AsyncIterableIterator<T> {
  readonly url: string
  readonly method: string
  readonly #ws: WebSocket
  readonly #timeoutMs?: number
  readonly #items: T[] = []
  readonly #waiters: Array<Waiter<T>> = []
  /** Notifications that came before the subscription id (none should). */
  readonly #early: Array<{ subscription: unknown, result: T }> = []
  #id?: string | number
  #ended?: { error?: unknown }

  private constructor (url: string, method: string, ws: WebSocket, timeoutMs?: number) {
    this.url = url
    this.method = method
    this.#ws = ws
    this.#timeoutMs = timeoutMs
  }

  /** The node's id for this subscription. */
  get id (): string | number | undefined {
    return this.#id
  }

  /** Connects, subscribes and waits for the node's answer (the subscription id, or an error). */
  static async open<T>(url: string, method: string, params: unknown[], timeoutMs: number | undefined, openTimeoutMs: number): Promise<Subscription<T>> {
    const ws = new WebSocket(url, { handshakeTimeout: openTimeoutMs })
    const sub = new Subscription<T>(url, method, ws, timeoutMs)
    await new Promise<void>((resolve, reject) => {
      let opened = false
      const timer = setTimeout(() => fail(new NodeUnavailable(url, `the node at ${url} did not answer ${method} within ${openTimeoutMs / 1000} s`)), openTimeoutMs)
      const fail = (e: unknown): void => {
        if (sub.#ended != null) return
        clearTimeout(timer)
        sub.#ended = { error: e }
        ws.removeAllListeners()
        ws.on('error', () => {})
        ws.terminate()
        reject(e)
      }
      ws.on('unexpected-response', (_req, res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () => fail(new HttpError(res.statusCode ?? 0, Buffer.concat(parts).toString(), url)))
        res.on('error', () => fail(new HttpError(res.statusCode ?? 0, '', url)))
      })
      ws.on('open', () => {
        opened = true
        ws.send(stringify({ jsonrpc: '2.0', id: 1, method, params }))
      })
      ws.on('message', (raw) => {
        let msg: any
        try {
          msg = JSON.parse(raw.toString())
        } catch {
          return
        }
        const p = msg?.params
        if (p != null && typeof p === 'object' && 'subscription' in p) {
          if (sub.#id === undefined) sub.#early.push({ subscription: p.subscription, result: p.result as T })
          else if (p.subscription === sub.#id) sub.#push(p.result as T)
          return
        }
        if (sub.#id !== undefined || msg?.id !== 1) return
        try {
          sub.#id = unwrap(msg, method) as string | number
        } catch (e) {
          return fail(e)
        }
        clearTimeout(timer)
        for (const n of sub.#early.splice(0)) if (n.subscription === sub.#id) sub.#push(n.result)
        resolve()
      })
      ws.on('close', (code, why) => {
        const text = why.toString()
        const detail = `code ${code}${text !== '' ? `: ${text}` : ''}`
        if (sub.#id === undefined) fail(new NodeUnavailable(url, `the node at ${url} closed the connection before answering ${method} (${detail})`))
        else if (sub.#ended == null) sub.#end(new NodeUnavailable(url, `the node at ${url} closed the ${method} subscription (${detail})`))
      })
      ws.on('error', (e) => {
        if (!opened) fail(new NodeUnavailable(url, downMessage(url, e), { cause: e }))
        else if (sub.#id === undefined) fail(new NodeUnavailable(url, `the ${method} request to ${url} failed (${reason(e)})`, { cause: e }))
        else if (sub.#ended == null) sub.#end(new NodeUnavailable(url, `the ${method} subscription at ${url} failed (${reason(e)})`, { cause: e }))
      })
    })
    return sub
  }

  #push (item: T): void {
    const w = this.#waiters.shift()
    if (w != null) {
      clearTimeout(w.timer)
      w.resolve({ value: item, done: false })
    } else {
      this.#items.push(item)
    }
  }

  #end (error?: unknown): void {
    this.#ended = { error }
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer)
      if (error != null) w.reject(error)
      else w.resolve({ value: undefined, done: true })
    }
  }

  /** The next notification; rejects with `TimeoutError` after `timeoutMs`, `NodeUnavailable` if the node went away. */
  async next (): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return { value: this.#items.shift() as T, done: false }
    if (this.#ended != null) {
      if (this.#ended.error != null) throw this.#ended.error
      return { value: undefined, done: true }
    }
    return await new Promise<IteratorResult<T>>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject }
      const ms = this.#timeoutMs
      if (ms != null) {
        w.timer = setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(w), 1)
          reject(new TimeoutError(`nothing from ${this.url} for ${this.method} within ${ms / 1000} s`))
        }, ms)
      }
      this.#waiters.push(w)
    })
  }

  /** Closes the WebSocket; an iterator that is waiting ends. */
  close (): void {
    if (this.#ended == null) this.#end()
    this.#ws.removeAllListeners()
    this.#ws.on('error', () => {})
    this.#ws.close()
  }

  async return (): Promise<IteratorResult<T>> {
    this.close()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator] (): AsyncIterableIterator<T> {
    return this
  }
}
