//! Parsers for command-line values, each failing with a message that names the expected form.

use alloy::primitives::{Address, Bytes, U256};
use clap::builder::TypedValueParser as _;
use std::time::Duration;

/// An address (`0x` + 40 hex digits).
pub(crate) fn address(s: &str) -> Result<Address, String> {
    s.parse::<Address>()
        .map_err(|_| format!("'{s}' is not an address (expected 0x followed by 40 hex digits)"))
}

/// A token amount: base units (`1500000`) or a decimal with the token's unit (`1.5`, read with the token's
/// decimals later). Kept as text until the decimals are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Amount(pub(crate) String);

impl Amount {
    /// The amount in base units, given the token's decimals. Integers are taken as whole tokens unless
    /// `raw` (base units) is requested with a `wei:` / `raw:` prefix.
    pub(crate) fn to_base_units(&self, decimals: u8) -> Result<U256, String> {
        let s = self.0.trim();
        if let Some(raw) = s.strip_prefix("raw:") {
            return raw
                .parse::<U256>()
                .map_err(|e| format!("'{raw}' is not a whole number of base units: {e}"));
        }
        // Exact decimal arithmetic: more fractional digits than the token has is an error, never a silent
        // truncation.
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        if fraction.len() > usize::from(decimals) {
            return Err(format!(
                "'{s}' has more than the token's {decimals} decimals"
            ));
        }
        let digits = format!("{whole}{fraction:0<width$}", width = usize::from(decimals));
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(U256::ZERO);
        }
        U256::from_str_radix(digits, 10).map_err(|e| format!("'{s}' is too large: {e}"))
    }
}

/// A positive token amount such as `5`, `0.25` or `raw:1500000`.
pub(crate) fn amount(s: &str) -> Result<Amount, String> {
    let t = s.trim();
    let body = t.strip_prefix("raw:").unwrap_or(t);
    let dots = body.chars().filter(|&c| c == '.').count();
    if body.is_empty()
        || dots > 1
        || body == "."
        || !body.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return Err(format!(
            "'{s}' is not an amount (expected e.g. 5, 0.25 or raw:1500000)"
        ));
    }
    Ok(Amount(t.to_owned()))
}

/// A duration: `90`, `90s`, `10m`, `2h`, `1d`.
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (expected e.g. 90s, 10m, 2h, 1d)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "'{s}' has an unknown unit '{unit}' (use s, m, h or d)"
            ));
        }
    };
    if secs == 0 {
        return Err("the duration must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

/// A rate per second: a positive number up to 1000 (`0.5`, `2`).
pub(crate) fn rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 1000.0 => Ok(r),
        Ok(_) => Err(format!(
            "'{s}' is out of range: a rate is above 0 and at most 1000 per second"
        )),
        Err(_) => Err(format!("'{s}' is not a number (expected e.g. 0.5 or 2)")),
    }
}

/// A duration that may be zero (`0` disables what it configures).
pub(crate) fn duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        Ok(Duration::ZERO)
    } else {
        duration(s)
    }
}

/// A cap on the max fee per gas: `none`, or a gas price (see [`gas_price`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FeeCap(pub(crate) Option<u128>);

/// `none`, `200gwei`, `0.5gwei` or `1500wei`.
pub(crate) fn fee_cap(s: &str) -> Result<FeeCap, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(FeeCap(None));
    }
    gas_price(s).map(|wei| FeeCap(Some(wei)))
}

/// A gas price with its unit: `30gwei`, `0.25gwei` (at most 9 decimals) or `1500wei`. A bare number is refused:
/// tools disagree on whether it means wei or gwei.
pub(crate) fn gas_price(s: &str) -> Result<u128, String> {
    let t = s.trim().to_ascii_lowercase();
    let expected = "expected a price with its unit, e.g. 30gwei, 0.5gwei or 1500wei";
    let (number, decimals) = if let Some(n) = t.strip_suffix("gwei") {
        (n, 9)
    } else if let Some(n) = t.strip_suffix("wei") {
        (n, 0)
    } else {
        return Err(format!("'{s}' has no unit ({expected})"));
    };
    let number = number.trim();
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("'{s}' is not a gas price ({expected})"));
    }
    if number
        .split_once('.')
        .is_some_and(|(_, f)| f.len() > usize::from(decimals))
    {
        return Err(format!(
            "'{s}' has more decimals than its unit allows (wei: none, gwei: 9)"
        ));
    }
    let wei = Amount(number.to_owned())
        .to_base_units(decimals)
        .map_err(|e| format!("'{s}': {e} ({expected})"))?;
    let wei = u128::try_from(wei).map_err(|_| format!("'{s}' is too large"))?;
    if wei == 0 {
        return Err("the gas price must be positive".into());
    }
    Ok(wei)
}

/// Hex bytes (`0x…`) or `@path` to read them from a file (see [`file_bytes`]).
pub(crate) fn bytes(s: &str) -> Result<Bytes, String> {
    if let Some(path) = s.strip_prefix('@') {
        return file_bytes(std::path::Path::new(path)).map(Bytes::from);
    }
    s.parse::<Bytes>()
        .map_err(|_| format!("'{s}' is not hex bytes (expected 0x… or @file)"))
}

/// The bytes a file holds: a file of hex text (`0x` optional, whitespace and line breaks ignored, as
/// `kalypso prover sample-inputs > in.hex` writes it) is decoded; any other file is taken as raw bytes. Text
/// that looks like hex but cannot be decoded (an odd number of digits, a stray character after `0x`) is refused
/// rather than silently sent as raw bytes.
pub(crate) fn file_bytes(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    match hex_text(&raw) {
        HexText::Hex(bytes) => Ok(bytes),
        HexText::NotHex => Ok(raw),
        HexText::Malformed(why) => Err(format!(
            "'{}' looks like hex text but {why} (a file is read as hex text when it is hex digits, 0x \
             optional; else as raw bytes)",
            path.display()
        )),
    }
}

/// How a file's content reads as hex text.
#[derive(Debug, PartialEq, Eq)]
enum HexText {
    /// Hex text, decoded.
    Hex(Vec<u8>),
    /// Not hex text: raw bytes.
    NotHex,
    /// Hex text that does not decode; why.
    Malformed(&'static str),
}

fn hex_text(raw: &[u8]) -> HexText {
    let Ok(text) = std::str::from_utf8(raw) else {
        return HexText::NotHex;
    };
    let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let (prefixed, body) = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(body) => (true, body),
        None => (false, digits.as_str()),
    };
    if body.is_empty() {
        return if prefixed {
            HexText::Malformed("has no digits after 0x")
        } else {
            HexText::NotHex
        };
    }
    if !body.chars().all(|c| c.is_ascii_hexdigit()) {
        return if prefixed {
            HexText::Malformed("has characters other than hex digits after 0x")
        } else {
            HexText::NotHex
        };
    }
    if body.len() % 2 == 1 {
        return HexText::Malformed("has an odd number of hex digits");
    }
    alloy::hex::decode(body).map_or(HexText::Malformed("does not decode"), HexText::Hex)
}

/// A 32-byte hex value.
pub(crate) fn b256(s: &str) -> Result<alloy::primitives::B256, String> {
    s.parse().map_err(|_| {
        format!("'{s}' is not a 32-byte hex value (expected 0x followed by 64 hex digits)")
    })
}

/// A built-in circuit name, with the possible values listed in `--help`.
pub(crate) fn circuit() -> impl clap::builder::TypedValueParser<Value = kalypso_provers::CircuitKind>
{
    clap::builder::PossibleValuesParser::new(
        kalypso_provers::CircuitKind::ALL.map(kalypso_provers::CircuitKind::as_str),
    )
    .try_map(|s| s.parse::<kalypso_provers::CircuitKind>())
}

/// A circuit size: `N`, or `2^K` for the largest size of a proving domain of `2^K` points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CircuitSize {
    /// Exactly this many rounds or levels.
    Exact(usize),
    /// The largest size whose domain has `2^K` points.
    Domain(u32),
}

impl CircuitSize {
    /// The circuit `kind` at this size.
    pub(crate) fn spec(
        self,
        kind: kalypso_provers::CircuitKind,
    ) -> Result<kalypso_provers::CircuitSpec, kalypso_provers::Error> {
        match self {
            Self::Exact(n) => kalypso_provers::CircuitSpec::new(kind, n),
            Self::Domain(k) => kalypso_provers::CircuitSpec::largest_in_domain(kind, k),
        }
    }
}

/// `N` or `2^K`.
pub(crate) fn circuit_size(s: &str) -> Result<CircuitSize, String> {
    let t = s.trim();
    if let Some(k) = t.strip_prefix("2^") {
        return k
            .parse::<u32>()
            .ok()
            .filter(|k| (2..=kalypso_provers::circuit::MAX_LOG_DOMAIN).contains(k))
            .map(CircuitSize::Domain)
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a domain size (expected 2^K with K from 2 to {})",
                    kalypso_provers::circuit::MAX_LOG_DOMAIN
                )
            });
    }
    match t.parse::<usize>() {
        Ok(n) if n > 0 => Ok(CircuitSize::Exact(n)),
        _ => Err(format!(
            "'{s}' is not a circuit size (expected a positive integer such as 20, or 2^K such as 2^16)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_units_and_base_units() {
        assert_eq!(
            amount("1.5").unwrap().to_base_units(6).unwrap(),
            U256::from(1_500_000)
        );
        assert_eq!(
            amount("raw:42").unwrap().to_base_units(6).unwrap(),
            U256::from(42)
        );
        assert_eq!(
            amount("2").unwrap().to_base_units(18).unwrap(),
            U256::from(2_000_000_000_000_000_000u128)
        );
        assert!(amount("-1").is_err());
        assert!(amount("1e6").is_err());
        assert!(
            amount("0.0000001")
                .unwrap()
                .to_base_units(6)
                .unwrap_err()
                .contains("6 decimals")
        );
        assert_eq!(
            amount(".5").unwrap().to_base_units(2).unwrap(),
            U256::from(50)
        );
        assert!(amount("1.2.3").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(duration("10x").unwrap_err().contains("unknown unit"));
        assert!(duration("0s").is_err());
    }

    #[test]
    fn gas_prices_need_a_unit() {
        assert_eq!(gas_price("200gwei").unwrap(), 200_000_000_000);
        assert_eq!(gas_price("0.5 GWEI").unwrap(), 500_000_000);
        assert_eq!(gas_price("1500wei").unwrap(), 1500);
        assert!(gas_price("200").unwrap_err().contains("no unit"));
        assert!(gas_price("0.1wei").unwrap_err().contains("decimals"));
        assert!(
            gas_price("0.0000000001gwei")
                .unwrap_err()
                .contains("decimals")
        );
        assert!(gas_price("0gwei").unwrap_err().contains("positive"));
        assert!(gas_price("-1gwei").is_err());
        assert_eq!(fee_cap("none").unwrap(), FeeCap(None));
        assert_eq!(fee_cap("1gwei").unwrap(), FeeCap(Some(1_000_000_000)));
    }

    #[test]
    fn circuit_sizes() {
        use kalypso_provers::CircuitKind;
        assert_eq!(circuit_size("20").unwrap(), CircuitSize::Exact(20));
        assert_eq!(circuit_size("2^16").unwrap(), CircuitSize::Domain(16));
        assert!(circuit_size("0").unwrap_err().contains("positive integer"));
        assert!(circuit_size("2^40").unwrap_err().contains("2^K"));
        assert!(circuit_size("big").is_err());
        let spec = CircuitSize::Domain(14).spec(CircuitKind::Merkle).unwrap();
        assert_eq!((spec.size(), spec.domain_size()), (49, 1 << 14));
        assert!(
            CircuitSize::Exact(usize::MAX)
                .spec(CircuitKind::Mimc)
                .is_err()
        );
    }

    #[test]
    fn addresses_and_bytes() {
        assert!(address("0x0000000000000000000000000000000000000001").is_ok());
        assert!(address("0x123").unwrap_err().contains("40 hex digits"));
        assert_eq!(bytes("0x0102").unwrap().len(), 2);
        assert!(
            bytes("@/definitely/missing")
                .unwrap_err()
                .contains("cannot read")
        );
    }

    #[test]
    fn files_of_hex_text_are_decoded_and_others_read_raw() {
        assert_eq!(hex_text(b"0x0102\n"), HexText::Hex(vec![1, 2]));
        assert_eq!(hex_text(b"  0X0a0B  \r\n"), HexText::Hex(vec![10, 11]));
        assert_eq!(hex_text(b"0102\n0304\n"), HexText::Hex(vec![1, 2, 3, 4]));
        assert_eq!(hex_text(&[0, 0, 0, 1]), HexText::NotHex);
        assert_eq!(hex_text(&[0xff, 0xfe]), HexText::NotHex);
        assert_eq!(hex_text(b"hello"), HexText::NotHex);
        assert_eq!(hex_text(b""), HexText::NotHex);
        assert!(matches!(hex_text(b"0x012"), HexText::Malformed(w) if w.contains("odd")));
        assert!(matches!(hex_text(b"abc"), HexText::Malformed(w) if w.contains("odd")));
        assert!(matches!(hex_text(b"0x01zz"), HexText::Malformed(w) if w.contains("other than")));
        assert!(matches!(hex_text(b"0x\n"), HexText::Malformed(w) if w.contains("no digits")));

        let dir = tempfile::tempdir().expect("temp dir");
        let hex = dir.path().join("in.hex");
        std::fs::write(
            &hex,
            "0x00000000000000000000000000000000000000000000000000000000000000ff\n",
        )
        .expect("write");
        let decoded = bytes(&format!("@{}", hex.display())).expect("hex file");
        assert_eq!(decoded.len(), 32);
        assert_eq!(decoded[31], 0xff);
        let raw = dir.path().join("in.bin");
        std::fs::write(&raw, [0u8; 32]).expect("write");
        assert_eq!(
            bytes(&format!("@{}", raw.display()))
                .expect("raw file")
                .len(),
            32
        );
        let odd = dir.path().join("odd.hex");
        std::fs::write(&odd, "0x123").expect("write");
        assert!(
            bytes(&format!("@{}", odd.display()))
                .unwrap_err()
                .contains("odd number of hex digits")
        );
    }
}
