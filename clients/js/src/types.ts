/** What the node's JSON-RPC methods return (README "JSON-RPC"). Amounts are decimal strings in base units. */

import type { TxJson } from './tx.js'

export interface Head {
  height: number
  hash: string
  finalizedHeight: number
  finalizedHash: string
}

/** A head as the subscriptions deliver it (`chain_subscribeNewHeads`, `chain_subscribeFinalizedHeads`). */
export interface HeadEvent {
  height: number
  hash: string
  parentHash: string
  timestamp: number
  stateRoot: string
  txCount: number
}

export interface CommitJson {
  height: number
  round: number
  blockHash: string
  signatures: Array<{ validator: string, signature: string }>
}

export interface BlockJson {
  hash: string
  header: {
    parentHash: string
    height: number
    timestamp: number
    proposer: string
    txRoot: string
    stateRoot: string
    txCount: number
    evidenceRoot: string
    receiptsRoot: string
    lastCommitHash: string
    reveal: string
  }
  /** The block's txs by hash, in block order. */
  txs: string[]
  evidence: unknown[]
  lastCommit: CommitJson | null
  commit: CommitJson | null
}

export type TxStatusName = 'pending' | 'included' | 'failed' | 'unknown'

export interface TxStatus {
  status: TxStatusName
  blockHeight: number | null
  blockHash: string | null
  index?: number
  /** Why it failed in its block (it paid its fee and changed nothing else). */
  error: string | null
  /** The tx in its JSON form, once it is in a block. */
  tx?: TxJson | null
}

export interface Account {
  address: string
  balance: string
  nonce: number
  reserved: string
  staked: string
  pending: string
  delegated: string
  unbonding: string
  unbondingEntries: number
}

export interface FeeEstimate {
  fee: string
  breakdown: {
    computation: string
    storage: string
    network: string
    sizeBytes: number
    priorityMultiplierBps: number
    total: string
    [k: string]: unknown
  }
}

export interface Health {
  status: 'ok' | 'degraded'
  reasons: string[]
  height: number
  syncTarget: number | null
  isSyncing: boolean
  peers: number
  shouldHavePeers: boolean
  secsSinceNewBlock: number
  [k: string]: unknown
}

export interface ChainSpecReply {
  chainSpec: { chain_id: string, token: { symbol: string, decimals: number, hrp: string }, [k: string]: unknown }
  genesisHash: string
}

export interface NetworkState {
  peerId: string
  listenAddresses: string[]
  gossip: { accepted: number, ignored: number, rejected: number, undecodable: number }
}

export interface Supply {
  height: number
  total: string
  minted: { total: string, reward: string, compute: string, trial: string }
  burned: string
  verifiedUnits: string
  treasury: { address: string, balance: string, pending: string }
}

export interface JobFilter {
  status?: string
  client?: string
  coordinator?: string
  fromHeight?: number
  limit?: number
}

export interface HistoryFilter {
  fromHeight?: number
  toHeight?: number
  limit?: number
}

/** A reply whose fields this client does not type: see the README's RPC table. */
export type Json = Record<string, any>
