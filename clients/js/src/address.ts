/** Addresses: `bech32(hrp, sha256(public key)[0..20])` (src/primitives/address.rs). */

import { sha256 } from '@noble/hashes/sha2.js'
import { bech32 } from '@scure/base'

export const HRP = 'ait'

/** An address that is not bech32, has another prefix or is not 20 bytes. */
export class AddressError extends RangeError {
  constructor (message: string) {
    super(message)
    this.name = 'AddressError'
  }
}

/** `data` (an address's 20 bytes) as bech32 with the prefix `hrp`. */
export function encodeAddress (data: Uint8Array, hrp = HRP): string {
  if (data.length !== 20) throw new AddressError(`an address is 20 bytes, got ${data.length}`)
  return bech32.encode(hrp, bech32.toWords(data))
}

/** The bech32 address of a 32-byte ed25519 public key. */
export function addressOf (publicKey: Uint8Array, hrp = HRP): string {
  if (publicKey.length !== 32) throw new RangeError(`a public key is 32 bytes, got ${publicKey.length}`)
  return encodeAddress(sha256(publicKey).subarray(0, 20), hrp)
}

/** The 20 bytes of an address; throws `AddressError` saying why not. */
export function parseAddress (addr: string, hrp = HRP): Uint8Array {
  const s = addr.trim()
  const bad = new AddressError(`invalid address ${JSON.stringify(addr)}: not bech32`)
  if (s.toLowerCase() !== s && s.toUpperCase() !== s) throw bad
  const decoded = bech32.decodeUnsafe(s.toLowerCase() as `${string}1${string}`, 90)
  if (decoded == null) throw bad
  if (decoded.prefix !== hrp) {
    throw new AddressError(`invalid address ${JSON.stringify(addr)}: prefix '${decoded.prefix}', this chain uses '${hrp}'`)
  }
  const data = bech32.fromWordsUnsafe(decoded.words)
  if (data == null || data.length !== 20) throw new AddressError(`invalid address ${JSON.stringify(addr)}: payload must be 20 bytes`)
  return data
}
