/** The SCALE encodings a transaction and a header use (parity-scale-codec, as the node's src/primitives). */

import { U128_MAX } from './amount.js'

const U64_MAX = (1n << 64n) - 1n

function check (n: bigint | number, top: bigint, what: string): bigint {
  if (typeof n === 'number' && !Number.isSafeInteger(n)) throw new RangeError(`${what} ${n} is not a safe integer`)
  const b = BigInt(n)
  if (b < 0n || b > top) throw new RangeError(`${what} ${b} is out of range 0..${top}`)
  return b
}

function le (n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len)
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return out
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export const u8 = (n: number): Uint8Array => le(check(n, 0xffn, 'u8'), 1)
export const u32 = (n: number): Uint8Array => le(check(n, 0xffffffffn, 'u32'), 4)
export const u64 = (n: bigint | number): Uint8Array => le(check(n, U64_MAX, 'u64'), 8)
export const u128 = (n: bigint | number): Uint8Array => le(check(n, U128_MAX, 'u128'), 16)

/** SCALE compact integer: 1, 2 or 4 bytes with a 2-bit mode, or big-integer mode. */
export function compact (value: bigint | number): Uint8Array {
  const n = check(value, U128_MAX, 'compact integer')
  if (n < 1n << 6n) return le(n << 2n, 1)
  if (n < 1n << 14n) return le((n << 2n) | 1n, 2)
  if (n < 1n << 30n) return le((n << 2n) | 2n, 4)
  let len = 0
  for (let m = n; m > 0n; m >>= 8n) len++
  return concat(Uint8Array.of(((len - 4) << 2) | 3), le(n, len))
}

export function string (s: string): Uint8Array {
  const b = new TextEncoder().encode(s)
  return concat(compact(b.length), b)
}

export function vec (items: Uint8Array[]): Uint8Array {
  return concat(compact(items.length), ...items)
}
