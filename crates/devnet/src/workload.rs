//! The requester's side: a stream of asks at a fixed rate, followed to the end through the chain's events
//! (assignment, slash, proof, attestation, refund). Asks left open past their deadline are refunded by the
//! requester, as a real one would.

use crate::{
    progress::Progress,
    report::{AskOutcome, Assignment, Expected, Outcome, Report},
    setup::DevnetMarket,
};
use alloy::{
    primitives::{Address, B256, Bytes, U256, utils::parse_units},
    providers::{DynProvider, Provider},
};
use anyhow::Context as _;
use futures::{StreamExt, stream::FuturesUnordered};
use kalypso_primitives::Preference;
use kalypso_provers::{Fr, evm};
use kalypso_sdk::{
    AskId, AskParams, EventRecord, Kalypso, ProtocolEvent,
    contracts::marketplace::ProofMarketplace::ProofMarketplaceEvents as Ev,
};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};
use tokio::time::Instant;
use tracing::warn;

/// One ask to place.
#[derive(Debug, Clone)]
pub struct AskPlan {
    /// Index into the devnet's markets.
    pub market: usize,
    /// COST or TIME.
    pub preference: Preference,
    /// The prover data.
    pub inputs: Bytes,
    /// The price cap, in payment tokens (`"5"`).
    pub reward: String,
    /// Time from creation to the ask's deadline.
    pub deadline: Duration,
    /// How it should end.
    pub expected: Expected,
    /// A confidential market's secret inputs and how they are sealed.
    pub secret: Option<SecretPlan>,
}

/// The secret inputs of a confidential ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretPlan {
    /// The plaintext (the circuit's private inputs as JSON).
    pub plaintext: Vec<u8>,
    /// How the ask carries it.
    pub sealing: Sealing,
}

/// How a confidential ask carries its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    /// Sealed for this ask (`Kalypso::seal_secret`): the assigned enclave opens it.
    Sealed,
    /// Sealed for another requester's ask and copied into this one (an attempt to have its key re-wrapped
    /// here): its acl names the other ask, so the engine refuses it; refunded after its deadline.
    Copied,
    /// Sealed for this ask, then altered by the requester, who re-commits its acl to the altered bytes with its
    /// own data key (a requester's bug): the engine assigns it, the enclave cannot decrypt it and the market's
    /// IVS attests it; the requester pays for its garbage.
    Corrupt,
    /// An acl that is not one: the engine refuses the ask, which is refunded after its deadline.
    GarbageAcl,
}

/// The demo's stream: `n` valid asks alternating between the markets and, per market, between COST and TIME
/// (the first, a MiMC COST ask, goes to the cheapest generator); then one Merkle ask whose path does not
/// reach its root (settled through the IVS); in each confidential market one whose secret factors are wrong
/// (the enclave decrypts them, the circuit rejects them, the market's IVS decrypts and attests); in the TEE
/// market a ciphertext the requester corrupted under its own key (assigned, attested by the IVS); in the Groth16
/// confidential market a ciphertext and acl copied from another requester's ask and an acl that is garbage
/// (both refused by the engine, refunded after their deadline); and one ask whose price cap is below every quote
/// (never matched, refunded after its deadline).
pub fn demo_plan(markets: &[DevnetMarket], n: usize) -> Vec<AskPlan> {
    let mut plan: Vec<AskPlan> = (0..n)
        .map(|i| {
            let market = i % markets.len();
            AskPlan {
                market,
                preference: if (i / markets.len()).is_multiple_of(2) {
                    Preference::Cost
                } else {
                    Preference::Time
                },
                inputs: markets[market].circuit.sample_inputs(i as u64).into(),
                reward: "5".into(),
                deadline: Duration::from_secs(180),
                expected: Expected::Proof,
                secret: markets[market]
                    .circuit
                    .sample_secret(i as u64)
                    .map(|plaintext| SecretPlan {
                        plaintext,
                        sealing: Sealing::Sealed,
                    }),
            }
        })
        .collect();
    if let Some(merkle) = markets.iter().position(|m| m.circuit.is_merkle())
        && let crate::setup::DevnetCircuit::Builtin(spec) = markets[merkle].circuit
    {
        plan.push(AskPlan {
            market: merkle,
            preference: Preference::Time,
            inputs: spec.invalid_sample_inputs().0.into(),
            reward: "5".into(),
            deadline: Duration::from_secs(180),
            expected: Expected::InvalidInputs,
            secret: None,
        });
    }
    // Inputs no other ask of the plan has (the asks are told apart by their inputs).
    let n = |n: u64| -> Bytes { evm::encode_inputs(&[Fr::from(n)]).into() };
    let secret = |p: u64, q: u64, sealing| {
        Some(SecretPlan {
            plaintext: format!(r#"{{"p":"{p}","q":"{q}"}}"#).into_bytes(),
            sealing,
        })
    };
    if let Some(tee) = markets.iter().position(|m| m.circuit.is_tee()) {
        // The TEE market's enclave finds the factors wrong too: its IVS decrypts and attests.
        plan.push(AskPlan {
            market: tee,
            preference: Preference::Time,
            inputs: n(3 * 1_000_081),
            reward: "5".into(),
            deadline: Duration::from_secs(180),
            expected: Expected::InvalidInputs,
            secret: secret(5, 7, Sealing::Sealed),
        });
        // A ciphertext the requester corrupted under its own key: the engine assigns it, the generator's enclave
        // cannot open it, and the IVS (an attested enclave here) attests it — the requester pays for its garbage.
        plan.push(AskPlan {
            market: tee,
            preference: Preference::Cost,
            inputs: n(6 * 1_000_099),
            reward: "5".into(),
            deadline: Duration::from_secs(180),
            expected: Expected::InvalidInputs,
            secret: secret(6, 1_000_099, Sealing::Corrupt),
        });
    }
    if let Some(confidential) = markets
        .iter()
        .position(|m| m.circuit.is_confidential() && !m.circuit.is_tee())
    {
        // Factors the circuit rejects (5 · 7 ≠ n): the enclave decrypts, the circuit fails, the IVS attests.
        plan.push(AskPlan {
            market: confidential,
            preference: Preference::Cost,
            inputs: n(3 * 1_000_033),
            reward: "5".into(),
            deadline: Duration::from_secs(180),
            expected: Expected::InvalidInputs,
            secret: secret(5, 7, Sealing::Sealed),
        });
        // A ciphertext copied from another requester's ask: refused by the engine, refunded.
        plan.push(AskPlan {
            market: confidential,
            preference: Preference::Cost,
            inputs: n(2 * 1_000_037),
            reward: "5".into(),
            deadline: Duration::from_secs(20),
            expected: Expected::Refund,
            secret: secret(2, 1_000_037, Sealing::Copied),
        });
        // An acl the engine cannot open: never assigned, refunded after its deadline.
        plan.push(AskPlan {
            market: confidential,
            preference: Preference::Cost,
            inputs: n(4 * 1_000_039),
            reward: "5".into(),
            deadline: Duration::from_secs(20),
            expected: Expected::Refund,
            secret: secret(4, 1_000_039, Sealing::GarbageAcl),
        });
    }
    plan.push(AskPlan {
        market: 0,
        preference: Preference::Cost,
        inputs: markets[0].circuit.sample_inputs(u64::MAX).into(),
        reward: "0.1".into(),
        deadline: Duration::from_secs(20),
        expected: Expected::Refund,
        secret: None,
    });
    plan
}

/// `params` with the plan's secret sealed into it as the plan says.
async fn seal(
    client: &Kalypso<DynProvider>,
    mut params: AskParams,
    secret: Option<&SecretPlan>,
) -> kalypso_sdk::Result<AskParams> {
    let Some(secret) = secret else {
        return Ok(params);
    };
    match secret.sealing {
        Sealing::Sealed => {
            client.seal_secret(&mut params, &secret.plaintext).await?;
        }
        Sealing::Copied => {
            let engine = client
                .matching_engine_key()
                .await?
                .ok_or(kalypso_sdk::Error::NoMatchingEngineKey)?;
            let elsewhere =
                client.ask_context(params.market, Address::repeat_byte(0x77), &params.inputs);
            let sealed = kalypso_confidential::seal(&secret.plaintext, &elsewhere, &engine)?;
            params.secret = sealed.ciphertext.into();
            params.acl = sealed.acl.into();
        }
        Sealing::Corrupt => {
            client.seal_secret(&mut params, &secret.plaintext).await?;
            // The requester holds the data key it sealed with; the devnet takes it back from the engine's
            // INSECURE key.
            let context = client.ask_context(params.market, client.sender(), &params.inputs);
            let engine = crate::Role::MatchingEngine.signer();
            let engine_key = kalypso_confidential::SecretKey::from_signing_key(engine.credential());
            let data_key = kalypso_confidential::unwrap(&params.acl, &context, &engine_key)?;
            let mut ciphertext = params.secret.to_vec();
            if let Some(last) = ciphertext.last_mut() {
                *last ^= 1;
            }
            params.acl = kalypso_confidential::wrap_data_key(
                &data_key,
                kalypso_confidential::commitment(&ciphertext),
                &context,
                &engine_key.public_key(),
            )?
            .into();
            params.secret = ciphertext.into();
        }
        Sealing::GarbageAcl => {
            client.seal_secret(&mut params, &secret.plaintext).await?;
            params.acl = Bytes::from_static(b"not an acl");
        }
    }
    Ok(params)
}

/// A requester placing asks on the devnet.
#[derive(Debug, Clone, Copy)]
pub struct Workload<'a> {
    /// The requester (pays from its marketplace balance; nonces tracked locally so asks go out concurrently).
    pub client: &'a Kalypso<DynProvider>,
    /// The devnet's markets.
    pub markets: &'a [DevnetMarket],
    /// Generator names by address, for the report.
    pub names: &'a HashMap<Address, String>,
    /// Payment-token decimals.
    pub payment_decimals: u8,
    /// Asks per second.
    pub rate: f64,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Workload<'_> {
    /// Places the asks of `plan` and follows every one to its end. Reading the chain survives RPC errors (an
    /// outage): the event stream resumes where it stopped and applies nothing twice.
    pub async fn run(&self, plan: &[AskPlan], progress: &Progress) -> anyhow::Result<Report> {
        let Self {
            client,
            markets,
            names,
            payment_decimals,
            rate,
            timeout,
        } = *self;
        anyhow::ensure!(rate > 0.0, "the ask rate must be positive");
        let requester = client.sender();
        let rewards = plan
            .iter()
            .map(|p| {
                parse_units(&p.reward, payment_decimals)
                    .map(|u| u.get_absolute())
                    .with_context(|| format!("bad reward '{}'", p.reward))
            })
            .collect::<anyhow::Result<Vec<U256>>>()?;
        let fee = U256::from(client.params().await?.fee_per_input_byte);
        let needed = plan.iter().zip(&rewards).fold(U256::ZERO, |sum, (p, r)| {
            sum + *r + fee * U256::from(p.inputs.len())
        });
        let balance = client.claimable(requester).await?;
        if balance < needed {
            client.deposit(requester, needed - balance).await?;
        }

        let mut cursor = client.block_number().await?;
        let mut tracker = Tracker::new(markets, names, plan, requester, payment_decimals);
        let started = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / rate);
        let mut next_send = Instant::now();
        let mut to_send = plan.iter().zip(rewards).enumerate().peekable();
        let mut sends = FuturesUnordered::new();
        let mut refunds = FuturesUnordered::new();
        let poll = Duration::from_millis(250);
        let mut events = Box::pin(client.follow_events(cursor, poll));
        let mut heads = tokio::time::interval(Duration::from_millis(500));
        let deadline = started + timeout;

        loop {
            if to_send.peek().is_none() && sends.is_empty() && tracker.all_settled() {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the workload did not finish within {timeout:?}: {}",
                tracker.unfinished()
            );
            let send_at = to_send.peek().map(|_| next_send);
            tokio::select! {
                () = tokio::time::sleep_until(send_at.unwrap_or(deadline)), if send_at.is_some() => {
                    let Some((index, (ask, reward))) = to_send.next() else { continue };
                    next_send += interval;
                    // An idle chain's latest block can be old: count the deadline from the later of the two.
                    let now = client.block_timestamp().await.unwrap_or(0).max(unix_now());
                    let params = AskParams {
                        preference: ask.preference,
                        from_balance: true,
                        ..AskParams::new(
                            markets[ask.market].id,
                            reward,
                            now + ask.deadline.as_secs(),
                            ask.inputs.clone(),
                        )
                    };
                    let secret = ask.secret.as_ref();
                    sends.push(async move {
                        let created = match seal(client, params, secret).await {
                            Ok(params) => client.create_ask(params).await,
                            Err(e) => Err(e),
                        };
                        (index, created)
                    });
                }
                Some((index, created)) = sends.next(), if !sends.is_empty() => {
                    // The ask is claimed from its AskCreated event (by requester and inputs), so a creation
                    // whose receipt got lost (an RPC outage) is still followed; one that never reached the
                    // chain shows as unfinished when the time is up. Never re-sent: that could pay twice.
                    if let Err(e) = created {
                        warn!(target: "kalypso::devnet", "ask #{index} of the plan: creation not confirmed, watching the chain for it: {e}");
                    }
                }
                record = events.next() => {
                    let applied = match record {
                        Some(Ok(record)) => match tracker.timestamp(client.provider(), record.block_number).await {
                            Ok(ts) => {
                                cursor = record.block_number;
                                if let Some(line) = tracker.apply(&record, ts) {
                                    progress.note(&line);
                                }
                                progress.update(&tracker.counts());
                                Ok(())
                            }
                            Err(e) => Err(e),
                        },
                        Some(Err(e)) => Err(e.into()),
                        None => Err(anyhow::anyhow!("the event stream ended")),
                    };
                    if let Err(e) = applied {
                        warn!(target: "kalypso::devnet", "reading events failed (resuming from block {cursor}): {e:#}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        events = Box::pin(client.follow_events(cursor, poll));
                    }
                }
                _ = heads.tick() => {
                    let Ok(now) = client.block_timestamp().await else { continue };
                    for id in tracker.expired(now) {
                        refunds.push(async move { (id, client.refund_expired(id).await) });
                    }
                }
                Some((id, refunded)) = refunds.next(), if !refunds.is_empty() => {
                    if let Err(e) = refunded {
                        // Someone else (a keeper's slash after the deadline) may have settled it first.
                        warn!(target: "kalypso::devnet", ask = id, "refund failed: {e}");
                        tracker.refund_failed(id);
                    }
                }
            }
        }
        let gas = tracker.gas(client.provider()).await?;
        Ok(tracker.into_report(&gas, started.elapsed()))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Asks by id, built from the events.
struct Tracker<'a> {
    markets: &'a [DevnetMarket],
    names: &'a HashMap<Address, String>,
    planned: usize,
    plan: &'a [AskPlan],
    requester: Address,
    claimed: HashSet<usize>,
    asks: BTreeMap<AskId, AskOutcome>,
    /// Plan entries of our asks (others' asks on the same chain are ignored).
    ours: HashMap<AskId, (usize, Expected)>,
    /// Transactions whose gas an ask carries: (tx, ask), with the number of asks sharing the tx.
    txs: Vec<(B256, AskId)>,
    refunding: HashSet<AskId>,
    block_times: HashMap<u64, u64>,
    payment_decimals: u8,
    /// Events applied, by (transaction, log index): a re-read after an RPC error applies nothing twice.
    seen: HashSet<(B256, u64)>,
}

impl<'a> Tracker<'a> {
    fn new(
        markets: &'a [DevnetMarket],
        names: &'a HashMap<Address, String>,
        plan: &'a [AskPlan],
        requester: Address,
        payment_decimals: u8,
    ) -> Self {
        Self {
            markets,
            names,
            planned: plan.len(),
            plan,
            requester,
            claimed: HashSet::new(),
            asks: BTreeMap::new(),
            ours: HashMap::new(),
            txs: Vec::new(),
            refunding: HashSet::new(),
            block_times: HashMap::new(),
            payment_decimals,
            seen: HashSet::new(),
        }
    }

    /// Claims a created ask for the plan entry with its inputs (the first unclaimed one).
    fn claim(&mut self, id: AskId, requester: Address, inputs: &Bytes, tx: B256) {
        if requester != self.requester {
            return;
        }
        let Some(index) = self
            .plan
            .iter()
            .enumerate()
            .position(|(i, p)| p.inputs == *inputs && !self.claimed.contains(&i))
        else {
            return;
        };
        self.claimed.insert(index);
        let expected = self.plan[index].expected;
        self.ours.insert(id, (index, expected));
        let ask = self.ask(id);
        ask.plan_index = Some(index);
        ask.expected = Some(expected);
        self.txs.push((tx, id));
    }

    fn ask(&mut self, id: AskId) -> &mut AskOutcome {
        self.asks.entry(id).or_insert_with(|| AskOutcome::new(id))
    }

    fn name(&self, address: Address) -> String {
        self.names
            .get(&address)
            .cloned()
            .unwrap_or_else(|| address.to_string())
    }

    async fn timestamp(&mut self, provider: &DynProvider, block: u64) -> anyhow::Result<u64> {
        if let Some(ts) = self.block_times.get(&block) {
            return Ok(*ts);
        }
        let header = provider
            .get_block_by_number(block.into())
            .await?
            .with_context(|| format!("block {block} is missing"))?;
        let ts = header.header.timestamp;
        self.block_times.insert(block, ts);
        Ok(ts)
    }

    /// Updates the ask an event is about; returns a line worth showing for the rare paths.
    fn apply(&mut self, record: &EventRecord, ts: u64) -> Option<String> {
        if !self.seen.insert((record.tx_hash, record.log_index)) {
            return None;
        }
        let tx = record.tx_hash;
        let ProtocolEvent::Marketplace(event) = &record.event else {
            return None;
        };
        let id = |v: U256| AskId::try_from(v).unwrap_or(AskId::MAX);
        match event {
            Ev::AskCreated(e) => {
                let market_id = u64::try_from(e.marketId).unwrap_or(u64::MAX);
                let market = self.markets.iter().position(|m| m.id == market_id);
                let name = market.map(|m| self.markets[m].name.clone());
                let ask = self.ask(id(e.askId));
                ask.market = market_id;
                ask.market_name = name.unwrap_or_default();
                ask.preference = Preference::try_from(e.request.preference).ok();
                ask.reward = e.request.reward;
                ask.deadline = u64::try_from(e.request.deadline).unwrap_or(u64::MAX);
                ask.created_at = Some(ts);
                self.claim(id(e.askId), e.requester, &e.request.proverData, tx);
                None
            }
            Ev::TaskAssigned(e) => {
                let name = self.name(e.generator);
                let ask = self.ask(id(e.askId));
                ask.assignments.push(Assignment {
                    generator: name,
                    price: e.price,
                    at: ts,
                    fallback: e.fallbackAssignment,
                });
                self.txs.push((tx, id(e.askId)));
                None
            }
            Ev::AssignmentSkipped(e) => {
                let name = self.name(e.generator);
                self.ask(id(e.askId)).skipped.push((name, e.reason));
                None
            }
            Ev::TaskSlashed(e) => {
                let name = self.name(e.generator);
                let ask = self.ask(id(e.askId));
                ask.slashed.push(name.clone());
                // Only a slash of restaked collateral credits nothing here: the penalty is taken on the L1.
                let taken = if e.held.is_zero() && e.toKeeper.is_zero() {
                    format!(
                        "{} POND of its restaked collateral goes to the L1",
                        crate::report::tokens(e.penalty, 18)
                    )
                } else {
                    format!(
                        "{} tPOND held for the requester",
                        crate::report::tokens(e.held, 18)
                    )
                };
                Some(format!(
                    "ask {}: {name} missed its deadline and was slashed; {taken}{}",
                    id(e.askId),
                    if e.reopened { ", ask re-opened" } else { "" }
                ))
            }
            Ev::TaskDiscarded(e) => {
                let name = self.name(e.generator);
                let ask = self.ask(id(e.askId));
                ask.discarded.push(name.clone());
                Some(format!(
                    "ask {}: {name} gave the task up (discard)",
                    id(e.askId)
                ))
            }
            Ev::ProofSubmitted(e) => {
                let name = self.name(e.generator);
                let ask = self.ask(id(e.askId));
                ask.outcome = Some(Outcome::Proven {
                    generator: name,
                    price: e.price,
                    refund: e.refund,
                    at: ts,
                });
                self.txs.push((tx, id(e.askId)));
                None
            }
            Ev::CompensationSettled(e) => {
                // Slash and discard shares held for the ask: the requester's once a proof completed it.
                if !e.toRequester {
                    return None;
                }
                self.ask(id(e.askId)).compensation += e.amount;
                Some(format!(
                    "ask {}: {} tPOND compensation paid to the requester with the proof",
                    id(e.askId),
                    crate::report::tokens(e.amount, 18)
                ))
            }
            Ev::InvalidInputsSettled(e) => {
                let name = self.name(e.generator);
                let ask = self.ask(id(e.askId));
                ask.outcome = Some(Outcome::InvalidInputs {
                    generator: name.clone(),
                    price: e.price,
                    refund: e.refund,
                    at: ts,
                });
                self.txs.push((tx, id(e.askId)));
                Some(format!(
                    "ask {}: inputs attested invalid by the IVS, settled by {name}",
                    id(e.askId)
                ))
            }
            Ev::AskRefunded(e) => {
                let ask = self.ask(id(e.askId));
                ask.outcome = Some(Outcome::Refunded {
                    amount: e.amount,
                    cancelled: e.cancelled,
                    at: ts,
                });
                Some(format!(
                    "ask {}: refunded {} tUSDC ({})",
                    id(e.askId),
                    crate::report::tokens(e.amount, self.payment_decimals),
                    if e.cancelled {
                        "cancelled"
                    } else {
                        "deadline passed"
                    }
                ))
            }
            _ => None,
        }
    }

    /// Our open, unassigned asks past their deadline, not yet being refunded.
    fn expired(&mut self, now: u64) -> Vec<AskId> {
        let ids: Vec<AskId> = self
            .asks
            .values()
            .filter(|a| {
                self.ours.contains_key(&a.id)
                    && a.outcome.is_none()
                    && a.created_at.is_some()
                    && a.deadline < now
                    && a.open()
                    && !self.refunding.contains(&a.id)
            })
            .map(|a| a.id)
            .collect();
        self.refunding.extend(&ids);
        ids
    }

    fn refund_failed(&mut self, id: AskId) {
        self.refunding.remove(&id);
    }

    fn all_settled(&self) -> bool {
        self.ours.len() == self.planned
            && self
                .ours
                .keys()
                .all(|id| self.asks.get(id).is_some_and(|a| a.outcome.is_some()))
    }

    fn unfinished(&self) -> String {
        let open: Vec<String> = self
            .ours
            .keys()
            .filter(|id| self.asks.get(id).is_none_or(|a| a.outcome.is_none()))
            .map(ToString::to_string)
            .collect();
        format!(
            "{} of {} asks placed; unsettled: {}",
            self.ours.len(),
            self.planned,
            if open.is_empty() {
                "none".into()
            } else {
                open.join(", ")
            }
        )
    }

    /// Per market: (name, planned, created, assigned, settled).
    fn counts(&self) -> Vec<crate::progress::MarketCounts> {
        self.markets
            .iter()
            .map(|m| {
                let ours = self
                    .asks
                    .values()
                    .filter(|a| a.market == m.id && self.ours.contains_key(&a.id));
                let mut c = crate::progress::MarketCounts {
                    market: m.name.clone(),
                    ..Default::default()
                };
                for a in ours {
                    c.created += u64::from(a.created_at.is_some());
                    c.assigned += u64::from(!a.assignments.is_empty());
                    c.settled += u64::from(a.outcome.is_some());
                }
                c
            })
            .collect()
    }

    /// Gas each ask carried: its creation, its share of the relay transactions that assigned it (a batch's
    /// gas split over the assignments it made) and its proof or attestation.
    async fn gas(&self, provider: &DynProvider) -> anyhow::Result<HashMap<AskId, u64>> {
        let mut shares: HashMap<B256, u64> = HashMap::new();
        for (tx, _) in &self.txs {
            *shares.entry(*tx).or_default() += 1;
        }
        let mut used: HashMap<B256, u64> = HashMap::new();
        for tx in shares.keys() {
            if let Some(receipt) = provider.get_transaction_receipt(*tx).await? {
                used.insert(*tx, receipt.gas_used);
            }
        }
        let mut gas: HashMap<AskId, u64> = HashMap::new();
        for (tx, ask) in &self.txs {
            let share = used.get(tx).copied().unwrap_or(0) / shares[tx].max(1);
            *gas.entry(*ask).or_default() += share;
        }
        Ok(gas)
    }

    fn into_report(self, gas: &HashMap<AskId, u64>, elapsed: Duration) -> Report {
        let asks = self
            .asks
            .into_values()
            .filter(|a| self.ours.contains_key(&a.id))
            .map(|mut a| {
                a.gas = gas.get(&a.id).copied().unwrap_or(0);
                a
            })
            .collect();
        Report::new(asks, elapsed)
    }
}
