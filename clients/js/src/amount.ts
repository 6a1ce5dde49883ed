/** Amounts: integers in base units (u128); AIT has 9 decimals (1 AIT = 10^9 base units). */

export const DECIMALS = 9
export const SYMBOL = 'AIT'
export const U128_MAX = (1n << 128n) - 1n

const DIGITS = /^[0-9]*$/

/**
 * An amount as a person types it, in base units, as the `ergon` CLI reads one.
 *
 * A bigint, a safe integer or a string of digits is base units (`1500n`, `1500`, `"1500"`); a
 * number followed by the symbol is whole tokens (`"1.5AIT"`, `"2 AIT"`, `"0.000000001AIT"`),
 * with at most `decimals` digits after the point. A bare decimal (`"1.5"`) is refused with a
 * hint, as the CLI does: it could mean either. Throws a `RangeError` otherwise.
 */
export function parseAmount (value: bigint | number | string, symbol = SYMBOL, decimals = DECIMALS): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U128_MAX) throw new RangeError(`invalid amount ${value}: must be from 0 to 2^128 - 1`)
    return value
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`invalid amount ${value}: a number must be a non-negative safe integer (use a string or a bigint)`)
    }
    return BigInt(value)
  }
  if (typeof value !== 'string') throw new TypeError(`an amount is a bigint, a number or a string, not ${typeof value}`)
  const t = value.trim()
  let number: string
  let tokens: boolean
  if (t.endsWith(symbol) || t.endsWith(symbol.toLowerCase())) {
    number = t.slice(0, -symbol.length).trimEnd()
    tokens = true
  } else {
    number = t
    tokens = false
    if (t.includes('.')) {
      throw new RangeError(`invalid amount ${JSON.stringify(value)}: a bare number is base units; write ${t}${symbol} for tokens`)
    }
  }
  if (!tokens) {
    if (number === '' || !DIGITS.test(number)) {
      throw new RangeError(`invalid amount ${JSON.stringify(value)}: expected a non-negative integer in base units`)
    }
    const n = BigInt(number)
    if (n > U128_MAX) throw new RangeError(`invalid amount ${JSON.stringify(value)}: larger than 2^128 - 1`)
    return n
  }
  const dot = number.indexOf('.')
  const whole = dot < 0 ? number : number.slice(0, dot)
  const frac = dot < 0 ? '' : number.slice(dot + 1)
  if ((whole === '' && frac === '') || !DIGITS.test(whole) || !DIGITS.test(frac) || frac.length > decimals) {
    throw new RangeError(
      `invalid amount ${JSON.stringify(value)}: expected base units (1500) or ${symbol} with up to ` +
      `${decimals} decimals (1.5${symbol})`
    )
  }
  const n = BigInt(whole || '0') * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0')
  if (n > U128_MAX) throw new RangeError(`invalid amount ${JSON.stringify(value)}: too large`)
  return n
}

/** Base units as tokens, without trailing zeros: `1500000000n` -> `"1.5 AIT"`. */
export function formatAmount (baseUnits: bigint | number | string, symbol = SYMBOL, decimals = DECIMALS): string {
  const n = BigInt(baseUnits)
  const unit = 10n ** BigInt(decimals)
  const whole = n / unit
  const frac = n % unit
  const text = frac === 0n ? `${whole}` : `${whole}.${frac.toString().padStart(decimals, '0').replace(/0+$/, '')}`
  return `${text} ${symbol}`
}
