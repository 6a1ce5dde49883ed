/**
 * Transactions as the node encodes them (src/primitives/tx.rs), signed locally.
 *
 * A tx is SCALE-encoded as `chain_id (string) | sender (32 bytes) | nonce (u64 LE) | fee (u128
 * LE) | priority (u8) | payload (enum)`; `TRANSFER` is payload 0 with `to (20 bytes) | amount
 * (compact)`, `BATCH` payload 1 with a vector of those. Its hash, which the sender signs and
 * which identifies it, is `BLAKE3("ergon/tx/v1" || 0x00 || tx bytes)`; a signed tx is the tx
 * bytes followed by the 64-byte signature.
 */

import { encodeAddress, HRP, parseAddress, addressOf } from './address.js'
import { parseAmount } from './amount.js'
import { digest, fromHex, TAG, toHex } from './bytes.js'
import { Keypair } from './keys.js'
import * as scale from './scale.js'

/** Priorities in the order of their SCALE index (0..3). */
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const
export type Priority = typeof PRIORITIES[number]

/** `amount` base units (or tokens, as `parseAmount` reads them) to `to` (an address or its 20 bytes). */
export interface Transfer {
  to: string | Uint8Array
  amount: bigint | number | string
}

/** A transfer in the JSON form the node takes and returns. */
export interface TransferJson {
  to: string
  amount: string
}

/** The JSON form of a tx that `tx_send` and `fee_estimate` take (src/rpc/types.rs `tx_to_json`). */
export interface TxJson {
  type: 'TRANSFER' | 'BATCH'
  chainId: string
  sender: string
  publicKey: string
  nonce: number
  fee: string
  priority: Priority
  payload: TransferJson | { transfers: TransferJson[] }
  sig?: string
}

export interface TxFields {
  chainId: string
  /** The sender's 32-byte ed25519 public key. */
  sender: Uint8Array
  nonce: number
  fee?: bigint | number | string
  /** One transfer (`TRANSFER`) or a list of them (`BATCH`). */
  payload: Transfer | Transfer[]
  priority?: Priority
  /** The chain's address prefix (`ait`), for recipients given as addresses. */
  hrp?: string
}

function transferTo (t: Transfer, hrp: string): Uint8Array {
  const to = typeof t.to === 'string' ? parseAddress(t.to, hrp) : Uint8Array.from(t.to)
  if (to.length !== 20) throw new RangeError(`a recipient address is 20 bytes, got ${to.length}`)
  return to
}

/** An unsigned `TRANSFER` or `BATCH`. */
export class Tx {
  readonly chainId: string
  readonly sender: Uint8Array
  readonly nonce: number
  readonly fee: bigint
  readonly payload: Transfer | readonly Transfer[]
  readonly priority: Priority
  readonly hrp: string

  constructor (f: TxFields) {
    if (f.sender.length !== 32) throw new RangeError(`the sender is a 32-byte public key, got ${f.sender.length} bytes`)
    if (!Number.isSafeInteger(f.nonce) || f.nonce < 0) throw new RangeError(`nonce ${f.nonce} is not a non-negative integer`)
    const priority = f.priority ?? 'normal'
    if (!PRIORITIES.includes(priority)) {
      throw new RangeError(`unknown priority ${JSON.stringify(priority)}: expected low, normal, high or urgent`)
    }
    this.chainId = f.chainId
    this.sender = Uint8Array.from(f.sender)
    this.nonce = f.nonce
    this.fee = parseAmount(f.fee ?? 0n)
    this.payload = Array.isArray(f.payload) ? [...f.payload] : f.payload as Transfer
    this.priority = priority
    this.hrp = f.hrp ?? HRP
  }

  get kind (): 'TRANSFER' | 'BATCH' {
    return Array.isArray(this.payload) ? 'BATCH' : 'TRANSFER'
  }

  /** The transfers, one for a `TRANSFER`. */
  get transfers (): readonly Transfer[] {
    return Array.isArray(this.payload) ? this.payload : [this.payload as Transfer]
  }

  /** The canonical SCALE bytes (what is hashed and signed). */
  encode (): Uint8Array {
    const transfer = (t: Transfer): Uint8Array => scale.concat(transferTo(t, this.hrp), scale.compact(parseAmount(t.amount)))
    const payload = this.kind === 'TRANSFER'
      ? scale.concat(scale.u8(0), transfer(this.payload as Transfer))
      : scale.concat(scale.u8(1), scale.vec(this.transfers.map(transfer)))
    return scale.concat(
      scale.string(this.chainId),
      this.sender,
      scale.u64(this.nonce),
      scale.u128(this.fee),
      scale.u8(PRIORITIES.indexOf(this.priority)),
      payload
    )
  }

  /** The signing hash, which is also the tx's identity (`txHash`). */
  hash (): Uint8Array {
    return digest(TAG.TX, this.encode())
  }

  hashHex (): string {
    return toHex(this.hash())
  }

  /** The same tx with another fee. */
  withFee (fee: bigint | number | string): Tx {
    return new Tx({ ...this.fields(), fee })
  }

  /** The same tx with another nonce. */
  withNonce (nonce: number): Tx {
    return new Tx({ ...this.fields(), nonce })
  }

  fields (): Required<TxFields> {
    return {
      chainId: this.chainId,
      sender: this.sender,
      nonce: this.nonce,
      fee: this.fee,
      payload: Array.isArray(this.payload) ? [...this.payload] : this.payload as Transfer,
      priority: this.priority,
      hrp: this.hrp
    }
  }

  sign (key: Keypair): SignedTx {
    if (toHex(key.publicKey) !== toHex(this.sender)) throw new RangeError("the key does not match the tx's sender")
    return new SignedTx(this, key.sign(this.hash()))
  }

  /** The JSON form `tx_send` and `fee_estimate` take; with `signature`, signed. */
  toJson (signature?: Uint8Array): TxJson {
    const transfer = (t: Transfer): TransferJson => ({
      to: typeof t.to === 'string' ? t.to : encodeAddress(t.to, this.hrp),
      amount: parseAmount(t.amount).toString()
    })
    const out: TxJson = {
      type: this.kind,
      chainId: this.chainId,
      sender: addressOf(this.sender, this.hrp),
      publicKey: toHex(this.sender),
      nonce: this.nonce,
      fee: this.fee.toString(),
      priority: this.priority,
      payload: this.kind === 'TRANSFER' ? transfer(this.payload as Transfer) : { transfers: this.transfers.map(transfer) }
    }
    if (signature != null) out.sig = toHex(signature)
    return out
  }
}

/** A tx with its sender's signature over its hash. */
export class SignedTx {
  constructor (readonly tx: Tx, readonly signature: Uint8Array) {
    if (signature.length !== 64) throw new RangeError(`a signature is 64 bytes, got ${signature.length}`)
  }

  /** A signed tx from its JSON form (as `tx_get` returns it). */
  static fromJson (j: TxJson, hrp = HRP): SignedTx {
    if (j.sig == null) throw new RangeError('the tx is not signed: no `sig`')
    const t = (x: TransferJson): Transfer => ({ to: x.to, amount: BigInt(x.amount) })
    const payload = j.type === 'TRANSFER'
      ? t(j.payload as TransferJson)
      : (j.payload as { transfers: TransferJson[] }).transfers.map(t)
    const tx = new Tx({
      chainId: j.chainId,
      sender: fromHex(j.publicKey, 'publicKey', 32),
      nonce: j.nonce,
      fee: BigInt(j.fee),
      payload,
      priority: j.priority,
      hrp
    })
    return new SignedTx(tx, fromHex(j.sig, 'sig', 64))
  }

  /** The signed tx's canonical bytes: the tx's, then the 64-byte signature. */
  encode (): Uint8Array {
    return scale.concat(this.tx.encode(), this.signature)
  }

  hash (): Uint8Array {
    return this.tx.hash()
  }

  hashHex (): string {
    return this.tx.hashHex()
  }

  /** What the tx contributes to a block's tx root (commits to the signature too). */
  leafHash (): Uint8Array {
    return digest(TAG.TX_LEAF, this.encode())
  }

  /** Size in canonical bytes: what the fee schedule charges per byte of. */
  size (): number {
    return this.encode().length
  }

  /** Whether the signature is the sender's over the tx's hash. */
  verify (): boolean {
    return Keypair.verify(this.signature, this.tx.hash(), this.tx.sender)
  }

  toJson (): TxJson {
    return this.tx.toJson(this.signature)
  }
}
