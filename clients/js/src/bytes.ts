/** Hex and hashing helpers: BLAKE3 as the node uses it (src/primitives/hash.rs). */

import { blake3 as blake3Hash } from '@noble/hashes/blake3.js'
import { concat } from './scale.js'

/** `0x`-prefixed lowercase hex of `bytes`. */
export function toHex (bytes: Uint8Array): string {
  let s = '0x'
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

/** The bytes of a hex string (`0x` optional); with `len`, exactly that many. */
export function fromHex (hex: string, what = 'hex', len?: number): Uint8Array {
  const h = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new RangeError(`${what} is not hex: ${JSON.stringify(hex.slice(0, 80))}`)
  const out = new Uint8Array(h.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16)
  if (len != null && out.length !== len) throw new RangeError(`${what} is ${out.length} bytes, not ${len}`)
  return out
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** The 32-byte BLAKE3 hash of `data`. */
export function blake3 (data: Uint8Array): Uint8Array {
  return blake3Hash(data)
}

const utf8 = new TextEncoder()

/** The node's domain-separated hash: `BLAKE3(tag || 0x00 || data)`. */
export function digest (tag: string | Uint8Array, data: Uint8Array): Uint8Array {
  const t = typeof tag === 'string' ? utf8.encode(tag) : tag
  return blake3Hash(concat(t, Uint8Array.of(0), data))
}

/** Domain tags (src/primitives/hash.rs `tag`). */
export const TAG = {
  TX: 'ergon/tx/v1',
  TX_LEAF: 'ergon/tx-leaf/v1',
  HEADER: 'ergon/header/v1',
  DEV_KEY: 'ergon/dev-key/v1'
} as const
