//! What happened to each ask, the figures of the run, and whether every ask ended the way it should have.

use alloy::primitives::{U256, utils::format_units};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use kalypso_primitives::Preference;
use kalypso_sdk::AskId;
use serde::Serialize;
use std::time::Duration;

/// How an ask of the plan should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Expected {
    /// Proven and paid.
    Proof,
    /// Settled through an IVS attestation.
    InvalidInputs,
    /// Never matched; refunded after its deadline.
    Refund,
}

/// How an ask ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Outcome {
    /// A proof was accepted.
    Proven {
        /// Who proved it.
        generator: String,
        /// Paid to the generator.
        #[serde(with = "dec")]
        price: U256,
        /// Back to the requester.
        #[serde(with = "dec")]
        refund: U256,
        /// Block timestamp.
        at: u64,
    },
    /// The inputs were attested invalid.
    InvalidInputs {
        /// The assigned generator that settled it.
        generator: String,
        /// Paid to the generator.
        #[serde(with = "dec")]
        price: U256,
        /// Back to the requester.
        #[serde(with = "dec")]
        refund: U256,
        /// Block timestamp.
        at: u64,
    },
    /// The reward went back to the requester.
    Refunded {
        /// Amount credited.
        #[serde(with = "dec")]
        amount: U256,
        /// Cancelled by the requester (else expired).
        cancelled: bool,
        /// Block timestamp.
        at: u64,
    },
}

/// One ask, from its events.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AskOutcome {
    /// Ask id.
    pub id: AskId,
    /// Position in the plan.
    pub plan_index: Option<usize>,
    /// What the plan expected.
    pub expected: Option<Expected>,
    /// Market id.
    pub market: u64,
    /// Market name.
    pub market_name: String,
    /// COST or TIME.
    pub preference: Option<Preference>,
    /// Price cap (payment-token base units).
    #[serde(with = "dec")]
    pub reward: U256,
    /// The ask's deadline (unix seconds).
    pub deadline: u64,
    /// Block timestamp of its creation.
    pub created_at: Option<u64>,
    /// Every assignment, in order.
    pub assignments: Vec<Assignment>,
    /// Generators slashed on it.
    pub slashed: Vec<String>,
    /// Generators that gave it up.
    pub discarded: Vec<String>,
    /// Assignments of it the marketplace skipped (`AssignmentSkipped`: generator, reason code) — a relay of an
    /// ask already assigned shows up here.
    pub skipped: Vec<(String, u8)>,
    /// Staking-token units credited to the requester by slashes and discards.
    #[serde(with = "dec")]
    pub compensation: U256,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// Gas of its creation, its share of the relays that assigned it, and its proof or attestation.
    pub gas: u64,
}

/// An assignment of an ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The generator.
    pub generator: String,
    /// The price it will be paid.
    #[serde(with = "dec")]
    pub price: U256,
    /// Block timestamp.
    pub at: u64,
    /// Taken by the generator itself (fallback self-assignment), not by the Matching Engine.
    pub fallback: bool,
}

mod dec {
    pub(super) fn serialize<S: serde::Serializer>(
        v: &alloy::primitives::U256,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
}

impl AskOutcome {
    pub(crate) fn new(id: AskId) -> Self {
        Self {
            id,
            plan_index: None,
            expected: None,
            market: 0,
            market_name: String::new(),
            preference: None,
            reward: U256::ZERO,
            deadline: 0,
            created_at: None,
            assignments: Vec::new(),
            slashed: Vec::new(),
            discarded: Vec::new(),
            skipped: Vec::new(),
            compensation: U256::ZERO,
            outcome: None,
            gas: 0,
        }
    }

    /// Not held by a generator (never assigned, or its last assignment was slashed or given up).
    pub fn open(&self) -> bool {
        self.assignments.len() <= self.slashed.len() + self.discarded.len()
    }

    /// Seconds from creation to the first assignment.
    pub fn time_to_assign(&self) -> Option<u64> {
        Some(
            self.assignments
                .first()?
                .at
                .saturating_sub(self.created_at?),
        )
    }

    /// Seconds from creation to the accepted proof.
    pub fn time_to_proof(&self) -> Option<u64> {
        match self.outcome {
            Some(Outcome::Proven { at, .. }) => Some(at.saturating_sub(self.created_at?)),
            _ => None,
        }
    }

    /// Whether it ended as the plan expected.
    pub fn as_expected(&self) -> bool {
        matches!(
            (self.expected, &self.outcome),
            (Some(Expected::Proof), Some(Outcome::Proven { .. }))
                | (
                    Some(Expected::InvalidInputs),
                    Some(Outcome::InvalidInputs { .. })
                )
                | (Some(Expected::Refund), Some(Outcome::Refunded { .. }))
        )
    }
}

/// The run's figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Asks placed.
    pub asks: usize,
    /// Proven.
    pub proven: usize,
    /// Settled by an IVS attestation.
    pub invalid_inputs: usize,
    /// Refunded.
    pub refunded: usize,
    /// Slashes seen.
    pub slashes: usize,
    /// Asks re-matched and proven after a slash or discard.
    pub rematched: usize,
    /// Asks placed per second (first to last creation, by block time).
    pub offered_per_sec: f64,
    /// Proofs accepted per second (first creation to last proof, by block time).
    pub proven_per_sec: f64,
    /// Seconds from creation to first assignment: p50, p90, max.
    pub time_to_assign: [u64; 3],
    /// Seconds from creation to the accepted proof: p50, p90, max.
    pub time_to_proof: [u64; 3],
    /// Mean gas per proven ask (creation + share of the relay + proof).
    pub gas_per_proven_ask: u64,
    /// Wall-clock seconds of the workload.
    pub elapsed_secs: f64,
}

/// The asks of a run and its figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Every ask, by id.
    pub asks: Vec<AskOutcome>,
    /// The figures.
    pub summary: Summary,
}

/// `amount` base units as a decimal number of tokens with `decimals` decimals (`1.5`).
pub fn tokens(amount: U256, decimals: u8) -> String {
    format_units(amount, decimals).map_or_else(
        |_| amount.to_string(),
        |s| {
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                s
            }
        },
    )
}

/// `(p50, p90, max)` of `values` (nearest rank).
fn percentiles(mut values: Vec<u64>) -> [u64; 3] {
    if values.is_empty() {
        return [0; 3];
    }
    values.sort_unstable();
    let at =
        |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    [at(0.5), at(0.9), values[values.len() - 1]]
}

impl Report {
    pub(crate) fn new(asks: Vec<AskOutcome>, elapsed: Duration) -> Self {
        let count = |f: fn(&Outcome) -> bool| {
            asks.iter()
                .filter(|a| a.outcome.as_ref().is_some_and(f))
                .count()
        };
        let proven = count(|o| matches!(o, Outcome::Proven { .. }));
        let created: Vec<u64> = asks.iter().filter_map(|a| a.created_at).collect();
        let first = created.iter().min().copied().unwrap_or(0);
        let last_created = created.iter().max().copied().unwrap_or(0);
        let last_proof = asks
            .iter()
            .filter_map(|a| match a.outcome {
                Some(Outcome::Proven { at, .. }) => Some(at),
                _ => None,
            })
            .max()
            .unwrap_or(first);
        let per_sec = |n: usize, span: u64| n as f64 / span.max(1) as f64;
        let proven_gas: Vec<u64> = asks
            .iter()
            .filter(|a| a.time_to_proof().is_some())
            .map(|a| a.gas)
            .collect();
        let summary = Summary {
            asks: asks.len(),
            proven,
            invalid_inputs: count(|o| matches!(o, Outcome::InvalidInputs { .. })),
            refunded: count(|o| matches!(o, Outcome::Refunded { .. })),
            slashes: asks.iter().map(|a| a.slashed.len()).sum(),
            rematched: asks
                .iter()
                .filter(|a| {
                    (!a.slashed.is_empty() || !a.discarded.is_empty())
                        && matches!(a.outcome, Some(Outcome::Proven { .. }))
                })
                .count(),
            offered_per_sec: per_sec(asks.len().saturating_sub(1), last_created - first),
            proven_per_sec: per_sec(proven, last_proof - first),
            time_to_assign: percentiles(
                asks.iter().filter_map(AskOutcome::time_to_assign).collect(),
            ),
            time_to_proof: percentiles(asks.iter().filter_map(AskOutcome::time_to_proof).collect()),
            gas_per_proven_ask: if proven_gas.is_empty() {
                0
            } else {
                proven_gas.iter().sum::<u64>() / proven_gas.len() as u64
            },
            elapsed_secs: elapsed.as_secs_f64(),
        };
        Self { asks, summary }
    }

    /// Asks that did not end as planned, with what happened instead.
    pub fn problems(&self) -> Vec<String> {
        self.asks
            .iter()
            .filter(|a| a.expected.is_some() && !a.as_expected())
            .map(|a| {
                format!(
                    "ask {}: expected {:?}, got {}",
                    a.id,
                    a.expected.unwrap_or(Expected::Proof),
                    a.outcome
                        .as_ref()
                        .map_or_else(|| "no settlement".to_owned(), |o| format!("{o:?}"))
                )
            })
            .collect()
    }

    /// The per-ask table and the figures, amounts in tokens of `decimals`.
    pub fn render(&self, decimals: u8) -> String {
        let tok = |v: U256| tokens(v, decimals);
        let secs = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s} s"));
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header([
                "ask",
                "market",
                "pref",
                "generator",
                "price",
                "refund",
                "to assign",
                "to proof",
                "outcome",
            ]);
        for a in &self.asks {
            let (generator, price, refund, outcome) = match &a.outcome {
                Some(Outcome::Proven {
                    generator,
                    price,
                    refund,
                    ..
                }) => {
                    let mut what = "proven".to_owned();
                    if !a.slashed.is_empty() && a.compensation.is_zero() {
                        what = format!(
                            "proven after slashing {} (restaked: slashed on the L1)",
                            a.slashed.join(", ")
                        );
                    } else if !a.slashed.is_empty() {
                        what = format!(
                            "proven after slashing {} (+{} tPOND to the requester)",
                            a.slashed.join(", "),
                            tokens(a.compensation, 18)
                        );
                    } else if !a.discarded.is_empty() {
                        what = format!("proven after {} gave up", a.discarded.join(", "));
                    }
                    (generator.clone(), tok(*price), tok(*refund), what)
                }
                Some(Outcome::InvalidInputs {
                    generator,
                    price,
                    refund,
                    ..
                }) => (
                    generator.clone(),
                    tok(*price),
                    tok(*refund),
                    "invalid inputs (IVS attestation)".to_owned(),
                ),
                Some(Outcome::Refunded {
                    amount, cancelled, ..
                }) => (
                    a.assignments
                        .last()
                        .map_or_else(|| "-".to_owned(), |x| x.generator.clone()),
                    "0".into(),
                    tok(*amount),
                    if *cancelled {
                        "cancelled".into()
                    } else {
                        "expired, refunded".into()
                    },
                ),
                None => ("-".into(), "-".into(), "-".into(), "open".into()),
            };
            table.add_row([
                a.id.to_string(),
                a.market_name.clone(),
                a.preference
                    .map_or_else(|| "-".to_owned(), |p| p.to_string().to_uppercase()),
                generator,
                price,
                refund,
                secs(a.time_to_assign()),
                secs(a.time_to_proof()),
                outcome,
            ]);
        }
        let s = &self.summary;
        format!(
            "{table}\n{} asks: {} proven, {} invalid inputs, {} refunded; {} slash(es), {} re-matched and proven\n\
             offered {:.2} asks/s, proven {:.2} asks/s (block time); time to assign p50/p90/max {}/{}/{} s, \
             time to proof {}/{}/{} s; gas per proven ask {}; {:.1} s wall clock",
            s.asks,
            s.proven,
            s.invalid_inputs,
            s.refunded,
            s.slashes,
            s.rematched,
            s.offered_per_sec,
            s.proven_per_sec,
            s.time_to_assign[0],
            s.time_to_assign[1],
            s.time_to_assign[2],
            s.time_to_proof[0],
            s.time_to_proof[1],
            s.time_to_proof[2],
            s.gas_per_proven_ask,
            s.elapsed_secs,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentiles(vec![]), [0, 0, 0]);
        assert_eq!(percentiles(vec![7]), [7, 7, 7]);
        assert_eq!(percentiles((1..=10).collect()), [5, 9, 10]);
        assert_eq!(percentiles(vec![3, 1, 2]), [2, 3, 3]);
    }

    #[test]
    fn an_ask_is_open_again_after_a_slash() {
        let mut a = AskOutcome::new(1);
        assert!(a.open());
        a.assignments.push(Assignment {
            generator: "x".into(),
            price: U256::from(1),
            at: 10,
            fallback: false,
        });
        assert!(!a.open());
        a.slashed.push("x".into());
        assert!(a.open());
    }

    #[test]
    fn expectations_match_outcomes() {
        let mut a = AskOutcome::new(1);
        a.expected = Some(Expected::Proof);
        assert!(!a.as_expected());
        a.outcome = Some(Outcome::Refunded {
            amount: U256::from(5),
            cancelled: false,
            at: 3,
        });
        assert!(!a.as_expected());
        a.expected = Some(Expected::Refund);
        assert!(a.as_expected());
        let report = Report::new(vec![a], Duration::from_secs(1));
        assert!(report.problems().is_empty());
        assert_eq!(report.summary.refunded, 1);
    }
}
