//! Start-up replay: the time to rebuild the engine's state from N stored protocol logs (the "index 100k events on
//! restart" target). `cargo bench -p kalypso-engine --bench replay`.

#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolEvent,
};
use criterion::{Criterion, criterion_group, criterion_main};
use kalypso_engine::{
    state::State,
    store::{BlockRef, Store, StoredLog},
};
use kalypso_sdk::{
    Deployment,
    contracts::{
        generator_registry::GeneratorRegistry,
        marketplace::{IProofMarketplace, ProofMarketplace},
    },
};
use std::time::{Duration, Instant};

fn deployment() -> Deployment {
    Deployment {
        chain_id: 31337,
        deploy_block: 1,
        marketplace: Address::repeat_byte(1),
        generator_registry: Address::repeat_byte(2),
        key_registry: Address::repeat_byte(3),
        attestation_verifier: Address::repeat_byte(4),
        payment_token: Address::repeat_byte(5),
        staking_token: Address::repeat_byte(6),
        timelock: None,
        sample_verifier: None,
        sample_market_id: None,
        restaking_pools: Vec::new(),
    }
}

fn log(
    d: &Deployment,
    block: u64,
    index: u64,
    address: Address,
    data: &alloy::primitives::LogData,
) -> StoredLog {
    StoredLog {
        block,
        timestamp: 1_700_000_000 + block,
        log_index: index,
        tx_hash: B256::with_last_byte(index as u8),
        address: if address == Address::ZERO {
            d.marketplace
        } else {
            address
        },
        topics: data.topics().to_vec(),
        data: data.data.to_vec(),
    }
}

/// A store with `events` logs: one market, 10 generators, and asks each created, assigned and proven.
fn filled_store(events: u64) -> Store {
    let d = deployment();
    let store = Store::in_memory(d.chain_id, d.marketplace).unwrap();
    let mut logs = Vec::new();
    logs.push(log(
        &d,
        1,
        0,
        Address::ZERO,
        &ProofMarketplace::MarketCreated {
            marketId: U256::from(1),
            creator: Address::repeat_byte(9),
            verifier: Address::repeat_byte(8),
            proverImageId: B256::ZERO,
            ivsImageId: B256::ZERO,
            slashingPenalty: U256::from(10),
            minStake: U256::from(20),
            activationTime: U256::ZERO,
            fallbackDelay: U256::ZERO,
            metadata: Bytes::new(),
        }
        .encode_log_data(),
    ));
    let generators: Vec<Address> = (0..10u8).map(|i| Address::repeat_byte(0x40 + i)).collect();
    for (i, g) in generators.iter().enumerate() {
        let i = i as u64;
        logs.push(log(
            &d,
            2,
            3 * i,
            d.generator_registry,
            &GeneratorRegistry::GeneratorRegistered {
                generator: *g,
                rewardAddress: *g,
                declaredCompute: U256::from(1_000_000),
                metadata: Bytes::new(),
            }
            .encode_log_data(),
        ));
        logs.push(log(
            &d,
            2,
            3 * i + 1,
            d.generator_registry,
            &GeneratorRegistry::Staked {
                generator: *g,
                payer: *g,
                amount: U256::from(1u64 << 40),
                stake: U256::from(1u64 << 40),
            }
            .encode_log_data(),
        ));
        logs.push(log(
            &d,
            2,
            3 * i + 2,
            d.generator_registry,
            &GeneratorRegistry::MarketJoined {
                generator: *g,
                marketId: U256::from(1),
                computePerProof: U256::from(1),
                pricePerProof: U256::from(10 + i),
                maxProofTime: U256::from(600 - i),
            }
            .encode_log_data(),
        ));
    }
    let mut ask = 0u64;
    while (logs.len() as u64) < events {
        ask += 1;
        let block = 3 + ask / 10;
        let g = generators[(ask % 10) as usize];
        let base = (ask % 10) * 3;
        logs.push(log(
            &d,
            block,
            base,
            Address::ZERO,
            &ProofMarketplace::AskCreated {
                askId: U256::from(ask),
                marketId: U256::from(1),
                requester: Address::repeat_byte(7),
                request: IProofMarketplace::AskRequest {
                    marketId: U256::from(1),
                    reward: U256::from(100),
                    deadline: U256::from(1_800_000_000u64),
                    preference: 0,
                    refundAddress: Address::repeat_byte(7),
                    proverData: Bytes::from(vec![1u8; 64]),
                    secret: Bytes::new(),
                    acl: Bytes::new(),
                },
                fee: U256::ZERO,
            }
            .encode_log_data(),
        ));
        logs.push(log(
            &d,
            block,
            base + 1,
            Address::ZERO,
            &ProofMarketplace::TaskAssigned {
                askId: U256::from(ask),
                marketId: U256::from(1),
                generator: g,
                price: U256::from(10),
                taskDeadline: U256::from(1_800_000_000u64),
                computePerProof: U256::from(1),
                fallbackAssignment: false,
                acl: Bytes::new(),
            }
            .encode_log_data(),
        ));
        logs.push(log(
            &d,
            block,
            base + 2,
            Address::ZERO,
            &ProofMarketplace::ProofSubmitted {
                askId: U256::from(ask),
                generator: g,
                rewardAddress: g,
                price: U256::from(10),
                refund: U256::from(90),
                proof: Bytes::from(vec![2u8; 256]),
            }
            .encode_log_data(),
        ));
    }
    let last = logs.last().unwrap().block;
    store
        .commit(
            &[BlockRef {
                number: last,
                hash: B256::repeat_byte(1),
                timestamp: 0,
            }],
            &logs,
        )
        .unwrap();
    store
}

fn replay(store: &Store, d: &Deployment) -> State {
    let mut state = State::default();
    store
        .for_each_log(|l| {
            state.apply_log(d, &l);
            Ok(())
        })
        .unwrap();
    state
}

fn bench(c: &mut Criterion) {
    let d = deployment();
    for events in [10_000u64, 100_000] {
        let store = filled_store(events);
        assert!(store.log_count().unwrap() >= events);
        let started = Instant::now();
        let state = replay(&store, &d);
        println!(
            "replay of {} events: {:?} ({} asks)",
            state.events,
            started.elapsed(),
            state.asks.len()
        );
        c.bench_function(&format!("replay {events} events"), |b| {
            b.iter(|| replay(&store, &d))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
