/**
 * ed25519 keys (@noble/ed25519), the dev keys and addresses, as the node derives them.
 *
 * - A secret is a 32-byte ed25519 seed (ed25519-dalek's `SigningKey::from_bytes`).
 * - Dev keys: `secret = BLAKE3("ergon/dev-key/v1" || 0x00 || name)` (src/primitives/keys.rs).
 */

import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'
import { addressOf, HRP } from './address.js'
import { digest, fromHex, TAG, toHex } from './bytes.js'

// Synchronous signing: @noble/ed25519 takes SHA-512 from @noble/hashes.
ed.hashes.sha512 = sha512

export const DEV_KEY_NAMES = ['alice', 'bob', 'charlie', 'dave', 'eve', 'ferdie', 'faucet'] as const

/** An ed25519 signing key. Printing it never shows the secret. */
export class Keypair {
  readonly #secret: Uint8Array
  readonly publicKey: Uint8Array

  constructor (secret: Uint8Array) {
    if (secret.length !== 32) throw new RangeError(`a secret key is 32 bytes, got ${secret.length}`)
    this.#secret = Uint8Array.from(secret)
    this.publicKey = ed.getPublicKey(this.#secret)
  }

  /** The deterministic development key `name` (alice, bob, ...). Never on a real chain. */
  static dev (name: string): Keypair {
    return new Keypair(digest(TAG.DEV_KEY, new TextEncoder().encode(name)))
  }

  static generate (): Keypair {
    return new Keypair(ed.utils.randomSecretKey())
  }

  /** A key from the hex secret `ergon key generate` writes (`0x` optional). */
  static fromHex (secretHex: string): Keypair {
    return new Keypair(fromHex(secretHex.trim(), 'secret key', 32))
  }

  get secret (): Uint8Array {
    return Uint8Array.from(this.#secret)
  }

  get publicKeyHex (): string {
    return toHex(this.publicKey)
  }

  address (hrp = HRP): string {
    return addressOf(this.publicKey, hrp)
  }

  /** The 64-byte ed25519 signature of `message` (for a tx: its 32-byte hash). */
  sign (message: Uint8Array): Uint8Array {
    return ed.sign(message, this.#secret)
  }

  /** Whether `signature` is `publicKey`'s over `message`. */
  static verify (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    try {
      return ed.verify(signature, message, publicKey)
    } catch {
      return false
    }
  }

  toString (): string {
    return `Keypair(${this.address()})`
  }

  toJSON (): { address: string, publicKey: string } {
    return { address: this.address(), publicKey: this.publicKeyHex }
  }

  [Symbol.for('nodejs.util.inspect.custom')] (): string {
    return this.toString()
  }
}
