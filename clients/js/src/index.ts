/**
 * A TypeScript client for the `ergon` node's JSON-RPC, with local signing of transfers and
 * the node's protobuf messages from `proto/`.
 *
 *     import { Client, Keypair } from 'ergon-client'
 *     const node = new Client('http://127.0.0.1:8080')
 *     console.log((await node.chain_getHead()).height)
 *     const signed = await node.transfer(Keypair.dev('bob'), 'ait1...', '1.5AIT', { wait: true })
 */

export { Client, Subscription, TimeoutError, stringify } from './client.js'
export type { ClientOptions, SubscriptionOptions, TransferOptions, TxLike, TxToPrice } from './client.js'
export { ErgonError, HttpError, NodeUnavailable, RpcError } from './errors.js'
export { DECIMALS, SYMBOL, U128_MAX, formatAmount, parseAmount } from './amount.js'
export { AddressError, HRP, addressOf, encodeAddress, parseAddress } from './address.js'
export { TAG, blake3, digest, equalBytes, fromHex, toHex } from './bytes.js'
export { DEV_KEY_NAMES, Keypair } from './keys.js'
export { PRIORITIES, SignedTx, Tx } from './tx.js'
export type { Priority, Transfer, TransferJson, TxFields, TxJson } from './tx.js'
export { Wire, encodeHeader, findProtoDir, headerHash } from './proto.js'
export type { GossipBlock, Header } from './proto.js'
export * as scale from './scale.js'
export type * from './types.js'
