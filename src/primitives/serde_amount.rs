//! Amounts in JSON: written as decimal strings (u128 does not fit a JSON number), read from a
//! string or a non-negative integer.

use serde::{de, Deserializer, Serializer};

pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
    struct V;
    impl de::Visitor<'_> for V {
        type Value = u128;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a non-negative integer amount, as a number or a decimal string")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u128, E> {
            Ok(v.into())
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<u128, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u128, E> {
            u128::try_from(v).map_err(|_| E::custom(format!("amount must not be negative, got {v}")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u128, E> {
            Err(E::custom(format!("amount must be an integer in base units, got {v}")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u128, E> {
            parse(v).map_err(E::custom)
        }
    }
    d.deserialize_any(V)
}

/// Parses a decimal amount in base units.
pub fn parse(s: &str) -> Result<u128, String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid amount {s:?}: expected a non-negative integer in base units"));
    }
    t.parse::<u128>().map_err(|_| format!("invalid amount {s:?}: larger than 2^128 - 1"))
}

/// An amount as a person types it: an integer is base units (`1500`), as in RPC; a number
/// followed by the token symbol is whole tokens (`1.5AIT`, `2 AIT`, `0.000000001AIT`), with at
/// most `decimals` digits after the point. A bare decimal (`1.5`) is refused with a hint: it
/// could mean either, and guessing wrong moves a billion times too much or too little.
pub fn parse_tokens(s: &str, symbol: &str, decimals: u8) -> Result<u128, String> {
    let t = s.trim();
    let Some(number) = t.strip_suffix(symbol).or_else(|| t.strip_suffix(&symbol.to_lowercase())) else {
        if t.contains('.') {
            return Err(format!("invalid amount {s:?}: a bare number is base units; write {t}{symbol} for tokens"));
        }
        return parse(t);
    };
    let number = number.trim_end();
    let bad = || {
        format!(
            "invalid amount {s:?}: expected base units (1500) or {symbol} with up to {decimals} decimals (1.5{symbol})"
        )
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > usize::from(decimals)
    {
        return Err(bad());
    }
    let unit = 10u128.checked_pow(u32::from(decimals)).ok_or_else(bad)?;
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let padded = format!("{frac:0<width$}", width = usize::from(decimals));
    let frac: u128 = if padded.is_empty() { 0 } else { padded.parse().map_err(|_| bad())? };
    whole.checked_mul(unit).and_then(|w| w.checked_add(frac)).ok_or_else(|| format!("invalid amount {s:?}: too large"))
}

/// Base units as tokens, the way `parse_tokens` reads them back: `1500000000` with 9 decimals
/// is `1.5 AIT`, trailing zeros after the point dropped (`2 AIT`, `0.000000001 AIT`).
pub fn format_tokens(v: u128, symbol: &str, decimals: u8) -> String {
    let Some(unit) = 10u128.checked_pow(u32::from(decimals)) else {
        return format!("{v} base units");
    };
    let whole = v.checked_div(unit).unwrap_or_default();
    let frac = v.checked_rem(unit).unwrap_or_default();
    if frac == 0 {
        return format!("{whole} {symbol}");
    }
    let digits = format!("{frac:0>width$}", width = usize::from(decimals));
    format!("{whole}.{} {symbol}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_print_as_they_parse() {
        assert_eq!(format_tokens(1_500_000_000, "AIT", 9), "1.5 AIT");
        assert_eq!(format_tokens(2_000_000_000, "AIT", 9), "2 AIT");
        assert_eq!(format_tokens(1, "AIT", 9), "0.000000001 AIT");
        assert_eq!(format_tokens(0, "AIT", 9), "0 AIT");
        assert_eq!(format_tokens(999_999_999_997_700, "AIT", 9), "999999.9999977 AIT");
        assert_eq!(format_tokens(7, "AIT", 0), "7 AIT");
        assert_eq!(format_tokens(7, "AIT", 40), "7 base units");
        for v in [1u128, 1_500_000_000, 123_456_789_012, u128::MAX] {
            assert_eq!(parse_tokens(&format_tokens(v, "AIT", 9), "AIT", 9), Ok(v));
        }
    }

    #[test]
    fn tokens_or_base_units() {
        assert_eq!(parse_tokens("1500", "AIT", 9), Ok(1500));
        let hint = parse_tokens("1.5", "AIT", 9).unwrap_err();
        assert!(hint.contains("write 1.5AIT for tokens"), "{hint}");
        assert_eq!(parse_tokens("1.5AIT", "AIT", 9), Ok(1_500_000_000));
        assert_eq!(parse_tokens("2 AIT", "AIT", 9), Ok(2_000_000_000));
        assert_eq!(parse_tokens("2ait", "AIT", 9), Ok(2_000_000_000));
        assert_eq!(parse_tokens("0.000000001AIT", "AIT", 9), Ok(1));
        assert_eq!(parse_tokens(".5AIT", "AIT", 9), Ok(500_000_000));
        for bad in ["1.0000000001", "1.5.5", "-1", "AIT", "1,5", "", "1e9", "x AIT"] {
            assert!(parse_tokens(bad, "AIT", 9).is_err(), "{bad:?}");
        }
        assert!(parse_tokens("340282366920938463463.374607431768211456AIT", "AIT", 18).is_err(), "overflow");
    }
}
