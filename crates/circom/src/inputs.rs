//! The values of a circuit's input signals, by qualified name (`x`, `a.b`, `arr[2].c`), as snarkjs's
//! `input.json` gives them.

use std::str::FromStr;

use ark_ff::PrimeField;
use serde_json::Value;

use crate::{Error, Fr, Result};

/// Input signal values by qualified name, in the order they are set. Arrays are flattened row by row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    signals: Vec<(String, Vec<Fr>)>,
}

impl Inputs {
    /// No inputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets signal `name` (an array's elements flattened); fails if it is already set.
    pub fn set(
        &mut self,
        name: impl Into<String>,
        values: impl Into<Vec<Fr>>,
    ) -> Result<&mut Self> {
        let name = name.into();
        if self.get(&name).is_some() {
            return Err(Error::Input(format!(
                "input signal `{name}` is given twice"
            )));
        }
        self.signals.push((name, values.into()));
        Ok(self)
    }

    /// The values of signal `name`.
    pub fn get(&self, name: &str) -> Option<&[Fr]> {
        self.signals
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Signals and their values in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Fr])> {
        self.signals.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Adds every signal of `other`; fails on a signal set in both.
    pub fn extend(&mut self, other: Self) -> Result<&mut Self> {
        for (name, values) in other.signals {
            self.set(name, values)?;
        }
        Ok(self)
    }

    /// Parses snarkjs's `input.json`: an object of signals whose values are numbers, decimal or `0x`-hex
    /// strings (negative values wrap modulo r, as in snarkjs), arrays of them, or nested objects (bus and
    /// sub-component signals, qualified as `a.b` and `a[i].b`).
    pub fn from_json(json: &Value) -> Result<Self> {
        let Value::Object(map) = json else {
            return Err(Error::Input(
                "the inputs must be a JSON object of signal names".into(),
            ));
        };
        let mut inputs = Self::new();
        for (name, value) in map {
            qualify(name, value, &mut inputs)?;
        }
        Ok(inputs)
    }

    /// [`Self::from_json`] of a JSON text.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let json: Value = serde_json::from_str(text)
            .map_err(|e| Error::Input(format!("the inputs are not JSON: {e}")))?;
        Self::from_json(&json)
    }
}

fn qualify(prefix: &str, value: &Value, inputs: &mut Inputs) -> Result<()> {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                qualify(&format!("{prefix}.{key}"), v, inputs)?;
            }
            Ok(())
        }
        Value::Array(items) if items.iter().any(contains_object) => {
            for (i, item) in items.iter().enumerate() {
                qualify(&format!("{prefix}[{i}]"), item, inputs)?;
            }
            Ok(())
        }
        _ => {
            let mut values = Vec::new();
            flatten(prefix, value, &mut values)?;
            inputs.set(prefix, values).map(drop)
        }
    }
}

fn contains_object(v: &Value) -> bool {
    match v {
        Value::Object(_) => true,
        Value::Array(items) => items.iter().any(contains_object),
        _ => false,
    }
}

fn flatten(name: &str, value: &Value, out: &mut Vec<Fr>) -> Result<()> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| flatten(name, v, out)),
        Value::Number(n) => {
            let v = if let Some(u) = n.as_u64() {
                Fr::from(u)
            } else if let Some(i) = n.as_i64() {
                -Fr::from(i.unsigned_abs())
            } else {
                return Err(Error::Input(format!(
                    "input `{name}`: {n} is not an integer (write large values as strings)"
                )));
            };
            out.push(v);
            Ok(())
        }
        Value::String(s) => {
            out.push(parse_scalar(s).map_err(|e| Error::Input(format!("input `{name}`: {e}")))?);
            Ok(())
        }
        other => Err(Error::Input(format!(
            "input `{name}`: {other} is not a number, a numeric string or an array"
        ))),
    }
}

/// Parses a decimal or `0x`-hex integer (optionally negative), reduced modulo r like snarkjs does.
pub fn parse_scalar(s: &str) -> Result<Fr, String> {
    let t = s.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{s}` is not a hex integer"));
        }
        let padded = if hex.len() % 2 == 1 {
            format!("0{hex}")
        } else {
            hex.to_owned()
        };
        let bytes: Vec<u8> = (0..padded.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&padded[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("`{s}` is not a hex integer"))?;
        Fr::from_be_bytes_mod_order(&bytes)
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{s}` is not a decimal or 0x-hex integer"));
        }
        // Decimal of any length, reduced modulo r.
        let ten = Fr::from(10u64);
        digits.bytes().fold(Fr::from(0u64), |acc, d| {
            acc * ten + Fr::from(u64::from(d - b'0'))
        })
    };
    Ok(if negative { -v } else { v })
}

/// A scalar as a decimal string (snarkjs's JSON writes them so).
pub fn scalar_to_decimal(v: &Fr) -> String {
    // `BigInt` displays in decimal.
    v.into_bigint().to_string()
}

impl FromStr for Inputs {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_json_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_snarkjs_input_shapes() {
        let inputs = Inputs::from_json_str(
            r#"{"x": "5", "h": "0x10", "n": 7, "neg": -1, "arr": [[1, "2"], [3, 4]],
                "bus": {"a": 1, "b": [2, 3]}, "list": [{"v": 1}, {"v": 2}]}"#,
        )
        .expect("valid");
        assert_eq!(inputs.get("x"), Some(&[Fr::from(5u64)][..]));
        assert_eq!(inputs.get("h"), Some(&[Fr::from(16u64)][..]));
        assert_eq!(inputs.get("n"), Some(&[Fr::from(7u64)][..]));
        assert_eq!(inputs.get("neg"), Some(&[-Fr::from(1u64)][..]));
        assert_eq!(inputs.get("arr"), Some(&[1u64, 2, 3, 4].map(Fr::from)[..]));
        assert_eq!(inputs.get("bus.a"), Some(&[Fr::from(1u64)][..]));
        assert_eq!(inputs.get("bus.b"), Some(&[2u64, 3].map(Fr::from)[..]));
        assert_eq!(inputs.get("list[1].v"), Some(&[Fr::from(2u64)][..]));
    }

    #[test]
    fn large_decimals_wrap_modulo_r() {
        let r = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
        assert_eq!(parse_scalar(r), Ok(Fr::from(0u64)));
        assert_eq!(scalar_to_decimal(&-Fr::from(1u64)), r.replace("617", "616"));
        assert_eq!(scalar_to_decimal(&Fr::from(42u64)), "42");
    }

    #[test]
    fn rejects_bad_values_naming_the_signal() {
        for (json, needle) in [
            (r#"{"x": "12a"}"#, "input `x`"),
            (r#"{"x": 1.5}"#, "not an integer"),
            (r#"{"x": true}"#, "input `x`"),
            (r#"{"x": "0x"}"#, "hex"),
            (r#"[1]"#, "JSON object"),
            ("{", "not JSON"),
        ] {
            let err = Inputs::from_json_str(json).expect_err(json).to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
        let mut inputs = Inputs::new();
        inputs.set("x", [Fr::from(1u64)]).expect("first");
        assert!(inputs.set("x", [Fr::from(2u64)]).is_err());
    }
}
