//! Parameters by position or by name: `[a, b]` and `{"x": a, "y": b}` both work, and every
//! error names the parameter that was wrong.

use super::errors::invalid_params;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub struct Args {
    names: &'static [&'static str],
    values: Vec<Value>,
}

impl Args {
    pub fn parse(params: &Params, names: &'static [&'static str]) -> Result<Args, ErrorObjectOwned> {
        let raw = params.as_str().unwrap_or("null");
        let v: Value = serde_json::from_str(raw).map_err(|e| invalid_params(format!("params are not JSON: {e}")))?;
        let values = match v {
            Value::Null => vec![],
            Value::Array(a) => {
                if a.len() > names.len() {
                    return Err(invalid_params(format!(
                        "expected at most {} params ({}), got {}",
                        names.len(),
                        names.join(", "),
                        a.len()
                    )));
                }
                a
            }
            Value::Object(mut m) => {
                let values = names.iter().map(|n| m.remove(*n).unwrap_or(Value::Null)).collect();
                if let Some(k) = m.keys().next() {
                    return Err(invalid_params(format!("unknown param `{k}`; expected {}", names.join(", "))));
                }
                values
            }
            _ => return Err(invalid_params("params must be an array or an object")),
        };
        Ok(Args { names, values })
    }

    fn name(&self, i: usize) -> &'static str {
        self.names.get(i).copied().unwrap_or("?")
    }

    pub fn raw(&self, i: usize) -> Option<&Value> {
        self.values.get(i).filter(|v| !v.is_null())
    }

    pub fn required<T: DeserializeOwned>(&self, i: usize) -> Result<T, ErrorObjectOwned> {
        self.optional(i)?.ok_or_else(|| invalid_params(format!("missing param `{}`", self.name(i))))
    }

    pub fn optional<T: DeserializeOwned>(&self, i: usize) -> Result<Option<T>, ErrorObjectOwned> {
        match self.raw(i) {
            None => Ok(None),
            Some(v) => super::types::from_json(v)
                .map(Some)
                .map_err(|e| invalid_params(format!("param `{}`: {e}", self.name(i)))),
        }
    }
}
