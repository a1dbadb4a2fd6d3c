//! The protocol's enums, numbered exactly as in Solidity.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// A value that is not one of an enum's names or numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} '{value}' (expected one of: {})", expected.join(", "))]
pub struct ParseError {
    /// The enum.
    pub kind: &'static str,
    /// What was given.
    pub value: String,
    /// The accepted names.
    pub expected: &'static [&'static str],
}

macro_rules! protocol_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $num:literal => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $num ),+
        }

        impl $name {
            /// Every value, in Solidity order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The lower-case name used in CLIs and logs.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> u8 {
                value as u8
            }
        }

        impl TryFrom<u8> for $name {
            type Error = ParseError;

            fn try_from(value: u8) -> Result<Self, Self::Error> {
                match value {
                    $($num => Ok(Self::$variant),)+
                    other => Err(ParseError {
                        kind: $kind,
                        value: other.to_string(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let lower = s.to_ascii_lowercase().replace('_', "-");
                match lower.as_str() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(ParseError { kind: $kind, value: s.to_owned(), expected: &[$($text),+] }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

protocol_enum! {
    /// What a requester optimises for when several generators can meet an ask.
    Preference, "preference" {
        /// The cheapest quote that meets the deadline.
        Cost = 0 => "cost",
        /// The fastest quote within the reward.
        Time = 1 => "time",
    }
}

protocol_enum! {
    /// Lifecycle state of an ask (`Expired` is derived by the contract for an open ask past its deadline).
    AskState, "ask state" {
        /// No such ask.
        None = 0 => "none",
        /// Open, waiting for a generator.
        Created = 1 => "created",
        /// Assigned to a generator that must prove it before its task deadline.
        Assigned = 2 => "assigned",
        /// Proven (or settled by an invalid-input attestation).
        Completed = 3 => "completed",
        /// Cancelled, expired or slashed without time left; the reward was refunded.
        Refunded = 4 => "refunded",
        /// Open past its deadline; refundable.
        Expired = 5 => "expired",
    }
}

protocol_enum! {
    /// Why an assignment was skipped (`AssignmentSkipped`) or refused (`AskNotAssignable`).
    SkipReason, "skip reason" {
        /// Not skipped.
        None = 0 => "none",
        /// The ask is not open.
        AskNotOpen = 1 => "ask-not-open",
        /// The ask's deadline passed.
        AskExpired = 2 => "ask-expired",
        /// The market is frozen.
        MarketNotActive = 3 => "market-not-active",
        /// The generator has no quote in the market.
        NotJoined = 4 => "not-joined",
        /// The quote's price is above the reward or the signed price cap.
        PriceAboveReward = 5 => "price-above-reward",
        /// The quote's proving time does not fit the deadline or the signed time cap.
        DeadlineTooSoon = 6 => "deadline-too-soon",
        /// Not enough free compute across the generator's markets.
        InsufficientCompute = 7 => "insufficient-compute",
        /// Not enough free stake to lock the market's slashing penalty.
        InsufficientStake = 8 => "insufficient-stake",
        /// Total stake below the market's minimum.
        BelowMinStake = 9 => "below-min-stake",
        /// Confidential market and no enclave key registered.
        NoEnclaveKey = 10 => "no-enclave-key",
        /// Fallback self-assignment is not open for this ask.
        FallbackNotOpen = 11 => "fallback-not-open",
        /// Only a collateral pool (restaked stake) could cover the task, and its stake snapshot is stale.
        CollateralStale = 12 => "collateral-stale",
        /// Only a collateral pool could cover the task, and the task is due after the pool's slashing window.
        BeyondSlashWindow = 13 => "beyond-slash-window",
        /// Only a collateral pool could cover the task, and the penalty is below the smallest it locks.
        PenaltyBelowMinLock = 14 => "penalty-below-min-lock",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_serde_round_trip() {
        for &p in Preference::ALL {
            assert_eq!(Preference::try_from(u8::from(p)).unwrap(), p);
            assert_eq!(p.to_string().parse::<Preference>().unwrap(), p);
        }
        for &r in SkipReason::ALL {
            assert_eq!(SkipReason::try_from(r as u8).unwrap(), r);
            assert_eq!(r.as_str().parse::<SkipReason>().unwrap(), r);
        }
        assert_eq!(
            "PRICE_ABOVE_REWARD".parse::<SkipReason>().unwrap(),
            SkipReason::PriceAboveReward
        );
        assert_eq!(
            serde_json::to_string(&AskState::Completed).unwrap(),
            "\"COMPLETED\""
        );
    }

    #[test]
    fn bad_values_name_the_alternatives() {
        let err = "fastest".parse::<Preference>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid preference 'fastest' (expected one of: cost, time)"
        );
        assert!(SkipReason::try_from(15).is_err());
        assert!(AskState::try_from(6).is_err());
    }
}
