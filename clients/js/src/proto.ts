/**
 * The node's wire messages, read at run time from the repository's `proto/` files with
 * protobufjs: a signed tx as protobuf (what `tx_send` also takes, as hex, and what the `txs`
 * gossip topic carries in a `TxBatch`), and blocks as the `blocks` topic carries them
 * (`CompactCommittedBlock`), with the header's hash computed here from its SCALE bytes.
 */

import protobuf from 'protobufjs'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { HRP, parseAddress } from './address.js'
import { parseAmount } from './amount.js'
import { digest, TAG, toHex } from './bytes.js'
import * as scale from './scale.js'
import { type Priority, SignedTx, Tx, type Transfer } from './tx.js'

const FILES = ['ergon/v1/types.proto', 'ergon/v1/network.proto', 'ergon/v1/consensus.proto']

/** Where `proto/` is: `dir`, else `$ERGON_PROTO_DIR`, else the first `proto/` above this module. */
export function findProtoDir (dir?: string): string {
  const given = dir ?? process.env.ERGON_PROTO_DIR
  if (given != null && given !== '') {
    if (!existsSync(path.join(given, FILES[0]))) throw new Error(`${given} has no ${FILES[0]}`)
    return given
  }
  let at = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(at, 'proto')
    if (existsSync(path.join(candidate, FILES[0]))) return candidate
    const up = path.dirname(at)
    if (up === at) throw new Error('no proto/ directory found above the client: pass its path, or set ERGON_PROTO_DIR')
    at = up
  }
}

// protobuf's enum numbering, which is not the SCALE order.
const PRIORITY_TO_PB: Record<Priority, number> = { normal: 0, low: 1, high: 2, urgent: 3 }
const PRIORITY_FROM_PB: Record<number, Priority> = { 0: 'normal', 1: 'low', 2: 'high', 3: 'urgent' }

/** A u128 as protobuf carries it: 16 bytes big-endian. */
function u128be (n: bigint): Uint8Array {
  const out = new Uint8Array(16)
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return out
}

function fromU128be (b: Uint8Array, field: string): bigint {
  if (b.length !== 16) throw new RangeError(`${field}: a u128 is 16 bytes, got ${b.length}`)
  let n = 0n
  for (const x of b) n = (n << 8n) | BigInt(x)
  return n
}

function fixed (b: Uint8Array | undefined, len: number, field: string): Uint8Array {
  if (b == null || b.length !== len) throw new RangeError(`${field}: expected ${len} bytes, got ${b?.length ?? 0}`)
  return Uint8Array.from(b)
}

/** A protobuf uint64 (a number or a Long) as a number. */
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(String(v)))

/** A block header: the fields the header hash covers, in SCALE order. */
export interface Header {
  parent: Uint8Array
  height: number
  timestampMs: number
  proposer: Uint8Array
  txRoot: Uint8Array
  stateRoot: Uint8Array
  txCount: number
  evidenceRoot: Uint8Array
  receiptsRoot: Uint8Array
  lastCommitHash: Uint8Array
  reveal: Uint8Array
}

/** The header's canonical SCALE bytes (src/primitives/block.rs `Header`). */
export function encodeHeader (h: Header): Uint8Array {
  return scale.concat(
    fixed(h.parent, 32, 'header.parent'),
    scale.u64(h.height),
    scale.u64(h.timestampMs),
    fixed(h.proposer, 32, 'header.proposer'),
    fixed(h.txRoot, 32, 'header.tx_root'),
    fixed(h.stateRoot, 32, 'header.state_root'),
    scale.u32(h.txCount),
    fixed(h.evidenceRoot, 32, 'header.evidence_root'),
    fixed(h.receiptsRoot, 32, 'header.receipts_root'),
    fixed(h.lastCommitHash, 32, 'header.last_commit_hash'),
    fixed(h.reveal, 32, 'header.reveal')
  )
}

/** A block's hash: `BLAKE3("ergon/header/v1" || 0x00 || SCALE(header))`. */
export function headerHash (h: Header): Uint8Array {
  return digest(TAG.HEADER, encodeHeader(h))
}

/** A finalized block as the `blocks` gossip topic carries it: header, tx hashes, commit. */
export interface GossipBlock {
  height: number
  /** The header's hash, computed here. */
  hash: string
  /** The hash the commit certificate names: a valid block's is `hash`. */
  commitHash: string
  header: Header
  /** The block's txs by hash (`0x...`), in block order. */
  txHashes: string[]
  evidence: number
  commit: { height: number, round: number, signatures: number }
}

type Obj = Record<string, any>

/** The node's protobuf messages, loaded from `proto/`. */
export class Wire {
  readonly root: protobuf.Root
  readonly protoDir: string

  constructor (protoDir?: string) {
    this.protoDir = findProtoDir(protoDir)
    const root = new protobuf.Root()
    root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(this.protoDir, target))
    root.loadSync(FILES, { keepCase: true })
    this.root = root
  }

  /** A message type of package `ergon.v1` (`SignedTx`, `CompactCommittedBlock`, `Status`, ...). */
  type (name: string): protobuf.Type {
    return this.root.lookupType(`ergon.v1.${name}`)
  }

  /** Encodes `value` (protobufjs's plain-object form, snake_case fields) as `type`. */
  encode (name: string, value: Obj): Uint8Array {
    const t = this.type(name)
    const err = t.verify(value)
    if (err != null) throw new TypeError(`${name}: ${err}`)
    return t.encode(t.fromObject(value)).finish()
  }

  decode (name: string, bytes: Uint8Array): Obj {
    return this.type(name).decode(bytes) as unknown as Obj
  }

  private txObject (s: SignedTx): Obj {
    const tx = s.tx
    const transfer = (t: Transfer): Obj => ({
      to: typeof t.to === 'string' ? parseAddress(t.to, tx.hrp) : Uint8Array.from(t.to),
      amount: u128be(parseAmount(t.amount))
    })
    const payload = tx.kind === 'TRANSFER'
      ? { transfer: transfer(tx.payload as Transfer) }
      : { batch: { transfers: tx.transfers.map(transfer) } }
    return {
      tx: {
        chain_id: tx.chainId,
        sender: tx.sender,
        nonce: tx.nonce,
        fee: u128be(tx.fee),
        priority: PRIORITY_TO_PB[tx.priority],
        ...payload
      },
      signature: s.signature
    }
  }

  /** A signed tx as protobuf `SignedTx` bytes; `tx_send` takes their hex. */
  encodeSignedTx (s: SignedTx): Uint8Array {
    return this.encode('SignedTx', this.txObject(s))
  }

  /** Signed txs as a `TxBatch`: what the `txs` gossip topic carries. */
  encodeTxBatch (txs: SignedTx[]): Uint8Array {
    return this.encode('TxBatch', { txs: txs.map(s => this.txObject(s)) })
  }

  /** A `SignedTx` message (TRANSFER or BATCH) as a `SignedTx`; throws for other payloads. */
  signedTxFrom (m: Obj, hrp = HRP): SignedTx {
    const t = m.tx
    if (t == null) throw new RangeError('signed_tx.tx is missing')
    const transfer = (x: Obj): Transfer => ({
      to: fixed(x.to, 20, 'transfer.to'),
      amount: fromU128be(x.amount, 'transfer.amount')
    })
    let payload: Transfer | Transfer[]
    if (t.transfer != null) payload = transfer(t.transfer)
    else if (t.batch != null) payload = (t.batch.transfers as Obj[]).map(transfer)
    else throw new RangeError(`a ${t.payload ?? 'payload-less'} tx: this client decodes TRANSFER and BATCH only`)
    const priority = PRIORITY_FROM_PB[t.priority ?? 0]
    if (priority == null) throw new RangeError(`tx.priority: unknown value ${t.priority}`)
    const tx = new Tx({
      chainId: t.chain_id,
      sender: fixed(t.sender, 32, 'tx.sender'),
      nonce: num(t.nonce),
      fee: fromU128be(t.fee, 'tx.fee'),
      payload,
      priority,
      hrp
    })
    return new SignedTx(tx, fixed(m.signature, 64, 'signed_tx.signature'))
  }

  decodeSignedTx (bytes: Uint8Array, hrp = HRP): SignedTx {
    return this.signedTxFrom(this.decode('SignedTx', bytes), hrp)
  }

  /** The txs of a `TxBatch` (from the `txs` topic). */
  decodeTxBatch (bytes: Uint8Array, hrp = HRP): SignedTx[] {
    return (this.decode('TxBatch', bytes).txs as Obj[]).map(m => this.signedTxFrom(m, hrp))
  }

  /** A `CompactCommittedBlock` (from the `blocks` topic), with its header hash computed here. */
  decodeCompactCommittedBlock (bytes: Uint8Array): GossipBlock {
    const m = this.decode('CompactCommittedBlock', bytes)
    const b = m.block
    const h = b?.header
    if (h == null || m.commit == null) throw new RangeError('a compact committed block without header or commit')
    const header: Header = {
      parent: fixed(h.parent, 32, 'header.parent'),
      height: num(h.height),
      timestampMs: num(h.timestamp_ms),
      proposer: fixed(h.proposer, 32, 'header.proposer'),
      txRoot: fixed(h.tx_root, 32, 'header.tx_root'),
      stateRoot: fixed(h.state_root, 32, 'header.state_root'),
      txCount: h.tx_count ?? 0,
      evidenceRoot: fixed(h.evidence_root, 32, 'header.evidence_root'),
      receiptsRoot: fixed(h.receipts_root, 32, 'header.receipts_root'),
      lastCommitHash: fixed(h.last_commit_hash, 32, 'header.last_commit_hash'),
      reveal: fixed(h.reveal, 32, 'header.reveal')
    }
    const hashes: Uint8Array = b.tx_hashes ?? new Uint8Array()
    if (hashes.length !== 32 * header.txCount) {
      throw new RangeError(`block ${header.height}: ${hashes.length} bytes of tx hashes for ${header.txCount} txs`)
    }
    const txHashes: string[] = []
    for (let i = 0; i < hashes.length; i += 32) txHashes.push(toHex(hashes.subarray(i, i + 32)))
    return {
      height: header.height,
      hash: toHex(headerHash(header)),
      commitHash: toHex(fixed(m.commit.block_hash, 32, 'commit.block_hash')),
      header,
      txHashes,
      evidence: (b.evidence ?? []).length,
      commit: { height: num(m.commit.height), round: m.commit.round ?? 0, signatures: (m.commit.signatures ?? []).length }
    }
  }
}
