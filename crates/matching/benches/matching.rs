//! Benchmarks of the matching core: matches per second with 10k generators over 100 markets, and the time per
//! match in one market of 100 to 100k generators (it should grow logarithmically).
//!
//! A "match" is one result of `Book::match_asks`, including the provisional reservation (compute, stake lock,
//! re-keying the generator, delisting/relisting it in its markets). Asks are created and the matched tasks are
//! mined and completed outside the timed section, so every round starts from the same kind of book.
//!
//! The time measured is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so other processes on a
//! shared machine do not inflate it by preempting the benchmark (they still share the caches).
//!
//! Run: `cargo bench -p kalypso-matching --bench matching`.

use alloy::primitives::Address;
use cpu_time::ThreadTime;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kalypso_matching::{AskId, Book, Event, MarketId, Quote, Seq};
use kalypso_primitives::Preference;
use std::{collections::HashMap, hint::black_box, time::Duration};

const NOW: u64 = 1_700_000_000;
/// Asks created (and matched) per timed round, at most.
const ROUND: u64 = 4_096;

/// SplitMix64: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    const fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    const fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// A populated book plus what the benchmark needs to mine and settle its matches.
struct World {
    book: Book,
    rng: Rng,
    block: u64,
    next_ask: AskId,
    markets: u64,
    /// Asks per round: half the generators at most, so a round fits the book's capacity.
    round: u64,
    compute: HashMap<(MarketId, Address), u64>,
}

impl World {
    /// `generators` generators, each quoting in `per_generator` of `markets` markets. Quotes: price 1..=1000,
    /// time 10..=1000 s, compute 1..=4 of 8..=16 declared; stake for 4..=12 concurrent tasks.
    fn new(generators: u64, markets: u64, per_generator: u64) -> Self {
        let mut w = Self {
            book: Book::new(),
            rng: Rng(42),
            block: 0,
            next_ask: 1,
            markets,
            round: ROUND.min(generators / 2).max(1),
            compute: HashMap::new(),
        };
        for market in 1..=markets {
            let penalty = u128::from(w.rng.range(1, 10));
            w.emit(&Event::MarketCreated {
                market,
                slashing_penalty: penalty,
                min_stake: penalty * 2,
                confidential: false,
            });
        }
        for i in 0..generators {
            let mut bytes = [0u8; 20];
            bytes[..8].copy_from_slice(&w.rng.next().to_be_bytes());
            bytes[12..].copy_from_slice(&i.to_be_bytes());
            let generator = Address::from(bytes);
            let declared_compute = w.rng.range(8, 16);
            w.emit(&Event::GeneratorRegistered {
                generator,
                declared_compute,
            });
            let stake = u128::from(w.rng.range(40, 120));
            w.emit(&Event::Staked { generator, stake });
            for _ in 0..per_generator {
                let market = w.rng.range(1, markets);
                let quote = Quote {
                    price: u128::from(w.rng.range(1, 1_000)),
                    max_proof_time: w.rng.range(10, 1_000),
                    compute_per_proof: w.rng.range(1, 4),
                };
                w.compute
                    .insert((market, generator), quote.compute_per_proof);
                w.emit(&Event::QuoteSet {
                    generator,
                    market,
                    quote,
                });
            }
        }
        w
    }

    fn emit(&mut self, event: &Event) {
        self.block += 1;
        self.book.apply(Seq::new(self.block, 0), event);
    }

    /// Creates asks, times matching them, then mines and completes the matches (untimed) until `iters` matches
    /// were made. Asks nobody could meet are closed untimed after their round (they cost their time in it).
    fn run(&mut self, iters: u64) -> Duration {
        let mut timed = Duration::ZERO;
        let mut matched = 0;
        while matched < iters {
            let n = self.round.min(iters - matched);
            let first = self.next_ask;
            for _ in 0..n {
                let ask = self.next_ask;
                self.next_ask += 1;
                let market = self.rng.range(1, self.markets);
                let reward = u128::from(self.rng.range(200, 1_000));
                let deadline = NOW + self.rng.range(100, 1_000);
                let preference = if self.rng.next().is_multiple_of(2) {
                    Preference::Cost
                } else {
                    Preference::Time
                };
                self.emit(&Event::AskCreated {
                    ask,
                    market,
                    reward,
                    deadline,
                    preference,
                });
            }
            let start = ThreadTime::now();
            let matches = black_box(self.book.match_asks(NOW, usize::MAX));
            timed += start.elapsed();
            matched += matches.len() as u64;
            for m in &matches {
                let compute_per_proof = self.compute[&(m.market, m.generator)];
                self.emit(&Event::TaskAssigned {
                    ask: m.ask,
                    generator: m.generator,
                    price: m.max_price,
                    compute_per_proof,
                });
            }
            for m in &matches {
                self.emit(&Event::TaskCompleted { ask: m.ask });
            }
            for ask in first..self.next_ask {
                self.emit(&Event::AskClosed { ask });
            }
            self.book.forget_finished();
        }
        timed
    }
}

fn many_markets(c: &mut Criterion) {
    let mut group = c.benchmark_group("match/10k_generators_100_markets");
    group.throughput(Throughput::Elements(1));
    let mut world = World::new(10_000, 100, 3);
    group.bench_function("per_match", |b| b.iter_custom(|iters| world.run(iters)));
    group.finish();
}

fn one_market(c: &mut Criterion) {
    let mut group = c.benchmark_group("match/one_market");
    group.throughput(Throughput::Elements(1));
    for generators in [100, 1_000, 10_000, 100_000] {
        let mut world = World::new(generators, 1, 1);
        group.bench_with_input(
            BenchmarkId::from_parameter(generators),
            &generators,
            |b, _| {
                b.iter_custom(|iters| world.run(iters));
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = many_markets, one_market
}
criterion_main!(benches);
