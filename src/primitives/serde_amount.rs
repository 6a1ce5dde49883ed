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
