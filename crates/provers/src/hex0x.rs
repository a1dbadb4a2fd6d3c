//! `0x`-prefixed hex, the byte encoding of every JSON document here (gateway API, key files, configs).
//!
//! Use as `#[serde(with = "kalypso_provers::hex0x")]` on a `Vec<u8>` field, or [`option`] on an
//! `Option<Vec<u8>>`.

use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

/// `0x` followed by lowercase hex.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Parses `0x`-prefixed hex (either case, even length; `0x` alone is empty).
pub fn decode(s: &str) -> Result<Vec<u8>, String> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| format!("expected 0x-prefixed hex, got {}", preview(s)))?;
    hex::decode(digits).map_err(|e| format!("invalid hex ({e}) in {}", preview(s)))
}

/// The start of a long string, for error messages.
fn preview(s: &str) -> String {
    const MAX: usize = 24;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("'{}…' ({} chars)", &s[..end], s.len()),
        None => format!("'{s}'"),
    }
}

/// Serializes bytes as `0x`-hex.
pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&encode(bytes))
}

/// Deserializes `0x`-hex into bytes.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    decode(&s).map_err(D::Error::custom)
}

/// The same for `Option<Vec<u8>>` (`null` or absent is `None`; pair with `#[serde(default)]`).
pub mod option {
    use super::*;

    /// Serializes `Some` as `0x`-hex and `None` as `null`.
    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => serializer.serialize_some(&encode(b)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes `null` or `0x`-hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(deserializer)?;
        s.map(|s| decode(&s).map_err(D::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        assert_eq!(encode([0xab, 0x01]), "0xab01");
        assert_eq!(decode("0xAB01").expect("hex"), vec![0xab, 0x01]);
        assert_eq!(decode("0x").expect("hex"), Vec::<u8>::new());
        assert!(decode("ab01").unwrap_err().contains("0x-prefixed"));
        assert!(decode("0xabc").unwrap_err().contains("invalid hex"));
        assert!(decode("0xzz").unwrap_err().contains("invalid hex"));
        let long = format!("0x{}", "g".repeat(100));
        assert!(decode(&long).unwrap_err().contains("(102 chars)"));
    }
}
