use super::*;

const COST: Preference = Preference::Cost;
const TIME: Preference = Preference::Time;
const M1: MarketId = 1;
const M2: MarketId = 2;
/// Slashing penalty and minimum stake of the default markets.
const PENALTY: u128 = 10;
const MIN_STAKE: u128 = 20;
const NOW: u64 = 1_000;

fn addr(i: u8) -> Address {
    Address::repeat_byte(i)
}

const fn quote(price: u128, max_proof_time: u64, compute_per_proof: u64) -> Quote {
    Quote {
        price,
        max_proof_time,
        compute_per_proof,
    }
}

/// A book fed events at increasing positions, checked after each one.
struct T {
    book: Book,
    block: u64,
}

impl T {
    /// Two public markets (penalty 10, min stake 20).
    fn new() -> Self {
        let mut t = Self {
            book: Book::new(),
            block: 0,
        };
        t.market(M1, false);
        t.market(M2, false);
        t
    }

    fn ev(&mut self, event: &Event) {
        self.block += 1;
        self.book.apply(Seq::new(self.block, 0), event);
        self.book.check();
    }

    fn market(&mut self, market: MarketId, confidential: bool) {
        self.ev(&Event::MarketCreated {
            market,
            slashing_penalty: PENALTY,
            min_stake: MIN_STAKE,
            confidential,
        });
    }

    /// Registers generator `i` with `compute` and `stake`.
    fn generator(&mut self, i: u8, compute: u64, stake: u128) {
        self.ev(&Event::GeneratorRegistered {
            generator: addr(i),
            declared_compute: compute,
        });
        self.ev(&Event::Staked {
            generator: addr(i),
            stake,
        });
    }

    fn quote(&mut self, i: u8, market: MarketId, price: u128, time: u64, compute: u64) {
        self.ev(&Event::QuoteSet {
            generator: addr(i),
            market,
            quote: quote(price, time, compute),
        });
    }

    fn ask(
        &mut self,
        ask: AskId,
        market: MarketId,
        reward: u128,
        deadline: u64,
        preference: Preference,
    ) {
        self.ev(&Event::AskCreated {
            ask,
            market,
            reward,
            deadline,
            preference,
        });
    }

    fn matches(&mut self, now: u64) -> Vec<(AskId, u8)> {
        let out = self.book.match_asks(now, usize::MAX);
        self.book.check();
        out.iter().map(|m| (m.ask, m.generator.0[0])).collect()
    }

    fn assigned(&mut self, ask: AskId, i: u8, price: u128, compute: u64) {
        self.ev(&Event::TaskAssigned {
            ask,
            generator: addr(i),
            price,
            compute_per_proof: compute,
        });
    }

    fn status(&self, ask: AskId) -> AskStatus {
        self.book.ask(ask).expect("known ask").status
    }

    fn gen_view(&self, i: u8) -> GeneratorView {
        self.book.generator(addr(i)).expect("known generator")
    }

    fn listed(&self, market: MarketId) -> usize {
        self.book.market(market).expect("known market").listed
    }
}

// ----- preferences and tie-breaks -----

#[test]
fn cost_prefers_cheapest_then_fastest_then_least_recently_assigned_then_address() {
    let mut t = T::new();
    for i in 1..=5 {
        t.generator(i, 100, 100);
    }
    t.quote(1, M1, 50, 10, 1); // cheapest
    t.quote(2, M1, 60, 5, 1);
    t.quote(3, M1, 60, 4, 1); // same price as 2, faster
    t.quote(4, M1, 70, 1, 1);
    t.ask(1, M1, 100, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    t.ask(2, M1, 100, NOW + 100, COST);
    t.quote(1, M1, 90, 1, 1);
    assert_eq!(t.matches(NOW), vec![(2, 3)]);
    // 3's match is mined: an identical quote from 5 (never assigned) goes first. Provisional matches do not
    // count as assignments, so 5 takes every ask of the round.
    t.assigned(2, 3, 60, 1);
    t.quote(5, M1, 60, 4, 1);
    for ask in 3..=6 {
        t.ask(ask, M1, 100, NOW + 100, COST);
    }
    assert_eq!(t.matches(NOW), vec![(3, 5), (4, 5), (5, 5), (6, 5)]);
    // Once 5's first one is mined, 3 is the least recently assigned (on chain).
    t.assigned(3, 5, 60, 1);
    for ask in 4..=6 {
        t.book.release_pending(ask);
    }
    assert_eq!(t.matches(NOW), vec![(4, 3), (5, 3), (6, 3)]);
    let quotes = t.book.quotes(M1);
    let last = |i: u8| {
        quotes
            .iter()
            .find(|q| q.generator == addr(i))
            .and_then(|q| q.last_assigned)
    };
    assert!(last(3) < last(5) && last(5) == Some(Seq::new(t.block, 0)));
}

#[test]
fn never_assigned_ties_break_by_address() {
    let mut t = T::new();
    t.generator(9, 100, 100);
    t.generator(4, 100, 100);
    t.quote(9, M1, 5, 5, 1);
    t.quote(4, M1, 5, 5, 1);
    t.ask(1, M1, 10, NOW + 10, COST);
    t.ask(2, M1, 10, NOW + 10, TIME);
    // A provisional match is no assignment: both go to the lower address.
    assert_eq!(t.matches(NOW), vec![(1, 4), (2, 4)]);
}

#[test]
fn time_prefers_fastest_then_cheapest_then_least_recently_assigned() {
    let mut t = T::new();
    for i in 1..=4 {
        t.generator(i, 100, 100);
    }
    t.quote(1, M1, 10, 50, 1);
    t.quote(2, M1, 30, 20, 1);
    t.quote(3, M1, 20, 20, 1); // as fast as 2, cheaper
    t.quote(4, M1, 90, 5, 1); // fastest but above the reward
    t.ask(1, M1, 80, NOW + 100, TIME);
    assert_eq!(t.matches(NOW), vec![(1, 3)]);
    t.assigned(1, 3, 20, 1);
    t.quote(2, M1, 20, 20, 1); // now identical to 3, which was just assigned
    t.ask(2, M1, 80, NOW + 100, TIME);
    assert_eq!(t.matches(NOW), vec![(2, 2)]);
    // With a deadline only 1 can meet (slow but cheap): TIME still needs the deadline.
    t.ask(3, M1, 80, NOW + 19, TIME);
    assert_eq!(t.matches(NOW), vec![]);
}

#[test]
fn cost_takes_the_cheapest_quote_that_meets_the_deadline() {
    let mut t = T::new();
    for i in 1..=3 {
        t.generator(i, 100, 100);
    }
    t.quote(1, M1, 10, 100, 1);
    t.quote(2, M1, 20, 50, 1);
    t.quote(3, M1, 30, 10, 1);
    t.ask(1, M1, 100, NOW + 60, COST);
    assert_eq!(t.matches(NOW), vec![(1, 2)]);
}

// ----- predicates, each at its boundary -----

#[test]
fn price_must_not_exceed_reward() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 50, 10, 1);
    t.ask(1, M1, 49, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![]);
    t.ask(2, M1, 50, NOW + 100, TIME);
    assert_eq!(t.matches(NOW), vec![(2, 1)]);
    assert_eq!(t.status(1), AskStatus::Open);
}

#[test]
fn proving_time_must_fit_before_the_deadline() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 9, COST);
    t.ask(2, M1, 5, NOW + 9, TIME);
    assert_eq!(t.matches(NOW), vec![]);
    t.ask(3, M1, 5, NOW + 10, COST); // now + time == deadline is allowed
    assert_eq!(t.matches(NOW), vec![(3, 1)]);
    // An earlier `now` makes the first asks fit.
    assert_eq!(t.matches(NOW - 1), vec![(1, 1), (2, 1)]);
}

#[test]
fn compute_is_declared_minus_consumed() {
    let mut t = T::new();
    t.generator(1, 10, 1_000);
    t.quote(1, M1, 1, 10, 4);
    for ask in 1..=3 {
        t.ask(ask, M1, 5, NOW + 100, COST);
    }
    // 4 + 4 <= 10, a third would need 12.
    assert_eq!(t.matches(NOW), vec![(1, 1), (2, 1)]);
    assert_eq!(t.gen_view(1).consumed_compute, 8);
    assert_eq!(t.listed(M1), 0);
    t.ev(&Event::DeclaredComputeUpdated {
        generator: addr(1),
        declared_compute: 12,
    });
    assert_eq!(t.matches(NOW), vec![(3, 1)]);
}

#[test]
fn total_stake_must_reach_the_minimum() {
    let mut t = T::new();
    t.generator(1, 100, MIN_STAKE - 1);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![]);
    t.ev(&Event::Staked {
        generator: addr(1),
        stake: MIN_STAKE,
    });
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
}

#[test]
fn free_stake_must_cover_the_penalty() {
    let mut t = T::new();
    // 25 staked: one lock of 10 leaves 15 free, a second leaves 5 (< 10).
    t.generator(1, 100, 25);
    t.quote(1, M1, 1, 10, 1);
    for ask in 1..=3 {
        t.ask(ask, M1, 5, NOW + 100, COST);
    }
    assert_eq!(t.matches(NOW), vec![(1, 1), (2, 1)]);
    assert_eq!(t.gen_view(1).locked, 20);
    t.ev(&Event::UnstakeCancelled {
        generator: addr(1),
        amount: 4,
    }); // 29 - 20 = 9 < 10
    assert_eq!(t.matches(NOW), vec![]);
    t.ev(&Event::UnstakeCancelled {
        generator: addr(1),
        amount: 1,
    });
    assert_eq!(t.matches(NOW), vec![(3, 1)]);
}

#[test]
fn unstake_request_lowers_the_stake() {
    let mut t = T::new();
    t.generator(1, 100, 30);
    t.quote(1, M1, 1, 10, 1);
    t.ev(&Event::UnstakeRequested {
        generator: addr(1),
        amount: 11,
    });
    assert_eq!(t.gen_view(1).stake, 19);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![]);
}

#[test]
fn confidential_markets_need_an_enclave_key() {
    let mut t = T::new();
    t.market(3, true);
    t.generator(1, 100, 100);
    t.quote(1, 3, 1, 10, 1);
    t.ask(1, 3, 5, NOW + 100, COST);
    assert_eq!(t.listed(3), 0);
    assert_eq!(t.matches(NOW), vec![]);
    t.ev(&Event::GeneratorKeySet {
        generator: addr(1),
        market: 3,
        present: true,
    });
    assert_eq!(t.listed(3), 1);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    t.ev(&Event::GeneratorKeySet {
        generator: addr(1),
        market: 3,
        present: false,
    });
    assert_eq!(t.listed(3), 0);
    // A key for a public market changes nothing there.
    t.quote(1, M1, 1, 10, 1);
    assert_eq!(t.listed(M1), 1);
}

#[test]
fn frozen_markets_match_nothing_until_unfrozen() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.ev(&Event::MarketFrozen {
        market: M1,
        frozen: true,
    });
    assert_eq!(t.listed(M1), 0);
    assert!(!t.book.quotes(M1)[0].listed);
    assert_eq!(t.matches(NOW), vec![]);
    t.ev(&Event::MarketFrozen {
        market: M1,
        frozen: false,
    });
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
}

#[test]
fn asks_past_their_deadline_leave_the_book() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 1, 1);
    t.ask(1, M1, 5, NOW, COST);
    t.ask(2, M1, 5, NOW - 1, COST);
    t.ask(3, M1, 5, NOW, COST);
    // Time 1 needs `now + 1 <= deadline`: none fits at NOW, but 2 has also expired.
    assert_eq!(t.matches(NOW), vec![]);
    assert_eq!(
        t.status(2),
        AskStatus::Parked {
            reason: SkipReason::AskExpired
        }
    );
    assert_eq!(t.status(1), AskStatus::Open);
    assert_eq!(t.book.open_asks(None), 2);
    assert_eq!(t.matches(NOW - 1), vec![(1, 1), (3, 1)]);
    // The refund closes the parked ask.
    t.ev(&Event::AskClosed { ask: 2 });
    assert_eq!(t.status(2), AskStatus::Closed);
}

// ----- capacity shared across markets -----

#[test]
fn a_match_in_one_market_delists_elsewhere_and_completion_relists() {
    let mut t = T::new();
    t.generator(1, 10, 100);
    t.quote(1, M1, 1, 10, 6);
    t.quote(1, M2, 1, 10, 5);
    assert_eq!((t.listed(M1), t.listed(M2)), (1, 1));
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    // 6 consumed of 10: 5 more do not fit in M2.
    assert_eq!((t.listed(M1), t.listed(M2)), (0, 0));
    t.ask(2, M2, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![]);
    t.assigned(1, 1, 1, 6);
    assert_eq!(t.gen_view(1).consumed_compute, 6);
    t.ev(&Event::TaskCompleted { ask: 1 });
    assert_eq!(t.status(1), AskStatus::Done);
    assert_eq!((t.listed(M1), t.listed(M2)), (1, 1));
    assert_eq!(t.matches(NOW), vec![(2, 1)]);
}

#[test]
fn stake_is_shared_across_markets() {
    let mut t = T::new();
    t.ev(&Event::MarketCreated {
        market: 3,
        slashing_penalty: 30,
        min_stake: 30,
        confidential: false,
    });
    t.generator(1, 100, 35);
    t.quote(1, M1, 1, 10, 1);
    t.quote(1, 3, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    // 35 - 10 locked = 25 free < 30.
    assert_eq!((t.listed(M1), t.listed(3)), (1, 0));
    t.release_and_check(1);
    assert_eq!((t.listed(M1), t.listed(3)), (1, 1));
}

impl T {
    fn release_and_check(&mut self, ask: AskId) {
        self.book.release_pending(ask);
        self.book.check();
    }
}

// ----- task lifecycle -----

#[test]
fn assignment_locks_the_penalty_and_completion_releases_it() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 3, 10, 7);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    assert_eq!(t.status(1), AskStatus::Pending { generator: addr(1) });
    let v = t.gen_view(1);
    assert_eq!((v.consumed_compute, v.locked), (7, PENALTY));
    // Our own assignment mined: no double count, the price is the event's.
    t.assigned(1, 1, 3, 7);
    assert_eq!(
        t.status(1),
        AskStatus::Assigned {
            generator: addr(1),
            price: 3
        }
    );
    let v = t.gen_view(1);
    assert_eq!((v.consumed_compute, v.locked), (7, PENALTY));
    assert_eq!(
        t.book
            .market(M1)
            .map(|m| (m.open_asks, m.pending_asks, m.assigned_asks)),
        Some((0, 0, 1))
    );
    t.ev(&Event::TaskCompleted { ask: 1 });
    let v = t.gen_view(1);
    assert_eq!((v.consumed_compute, v.locked, v.stake), (0, 0, 100));
    // Completing twice changes nothing.
    t.ev(&Event::TaskCompleted { ask: 1 });
    assert_eq!(t.gen_view(1).consumed_compute, 0);
}

#[test]
fn a_slash_takes_stake_and_reopens_the_ask_without_that_generator() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.generator(2, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.quote(2, M1, 2, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    t.assigned(1, 1, 1, 1);
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: 8,
        reopened: true,
    });
    let v = t.gen_view(1);
    assert_eq!((v.stake, v.locked, v.consumed_compute), (92, 0, 0));
    let view = t.book.ask(1).expect("ask");
    assert_eq!(view.status, AskStatus::Open);
    assert_eq!(view.excluded, vec![addr(1)]);
    assert_eq!(
        (view.reward, view.deadline, view.preference),
        (5, NOW + 100, COST)
    );
    // 1 is still the cheapest, but never again for this ask.
    assert_eq!(t.matches(NOW), vec![(1, 2)]);
    t.ask(2, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(2, 1)]);
}

#[test]
fn a_reopened_ask_queues_by_the_time_it_was_reopened() {
    let mut t = T::new();
    t.generator(1, 1, 100);
    t.generator(2, 1, 100);
    t.quote(1, M1, 1, 10, 1);
    t.quote(2, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.ask(2, M1, 5, NOW + 100, COST);
    t.assigned(1, 1, 1, 1);
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: 0,
        reopened: true,
    });
    let view = t.book.ask(1).expect("ask");
    assert_eq!(
        (view.created, view.opened),
        (Seq::new(9, 0), Seq::new(t.block, 0))
    );
    // Same reward: ask 2 is older now, so it goes first.
    assert_eq!(t.book.match_asks(NOW, 1).first().map(|m| m.ask), Some(2));
}

#[test]
fn choose_and_eligibility_answer_without_changing_the_book() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.generator(2, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.quote(2, M1, 2, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    let chosen = t.book.choose(1, NOW).expect("a choice");
    assert_eq!((chosen.generator, chosen.max_price), (addr(1), 1));
    assert_eq!(t.status(1), AskStatus::Open);
    assert_eq!(t.gen_view(1).consumed_compute, 0);
    assert_eq!(t.book.eligibility(1, addr(2), NOW).map(|q| q.price), Ok(2));
    assert_eq!(
        t.book.eligibility(1, addr(3), NOW),
        Err(SkipReason::NotJoined)
    );
    assert_eq!(
        t.book.eligibility(1, addr(2), NOW + 95),
        Err(SkipReason::DeadlineTooSoon)
    );
    // A failed generator is excluded (reported as `None`); pending asks have no choice.
    t.assigned(1, 1, 1, 1);
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: 0,
        reopened: true,
    });
    assert_eq!(t.book.eligibility(1, addr(1), NOW), Err(SkipReason::None));
    assert_eq!(t.book.choose(1, NOW).map(|m| m.generator), Some(addr(2)));
    assert_eq!(t.matches(NOW), vec![(1, 2)]);
    assert_eq!(t.book.choose(1, NOW), None);
    assert_eq!(
        t.book.eligibility(1, addr(2), NOW),
        Err(SkipReason::AskNotOpen)
    );
}

#[test]
fn pending_reservations_follow_the_quote_in_force() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 3);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    assert_eq!(t.gen_view(1).consumed_compute, 3);
    // The chain reserves the compute of the quote in force when the batch is mined, as a restart would.
    t.quote(1, M1, 1, 10, 7);
    assert_eq!(t.gen_view(1).consumed_compute, 7);
    t.assigned(1, 1, 1, 7);
    assert_eq!(t.gen_view(1).consumed_compute, 7);
}

#[test]
fn an_excluded_sole_generator_leaves_the_ask_unmatched() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.assigned(1, 1, 1, 1);
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: 0,
        reopened: true,
    });
    assert_eq!(t.matches(NOW), vec![]);
    assert_eq!(t.status(1), AskStatus::Open);
}

#[test]
fn a_failure_without_time_left_closes_the_ask_in_either_event_order() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.ask(2, M1, 5, NOW + 100, COST);
    t.assigned(1, 1, 1, 1);
    t.assigned(2, 1, 1, 1);
    // The contract emits AskRefunded before TaskSlashed: the lock is held until the slash event.
    t.ev(&Event::AskClosed { ask: 1 });
    assert_eq!(t.gen_view(1).locked, 2 * PENALTY);
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: 5,
        reopened: false,
    });
    assert_eq!(t.status(1), AskStatus::Closed);
    t.ev(&Event::TaskFailed {
        ask: 2,
        stake_taken: 5,
        reopened: false,
    });
    t.ev(&Event::AskClosed { ask: 2 });
    assert_eq!(t.status(2), AskStatus::Closed);
    let v = t.gen_view(1);
    assert_eq!((v.stake, v.locked, v.consumed_compute), (90, 0, 0));
}

#[test]
fn a_slash_below_the_minimum_stake_delists() {
    let mut t = T::new();
    t.generator(1, 100, MIN_STAKE);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.assigned(1, 1, 1, 1);
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: 1,
        reopened: false,
    });
    assert_eq!(t.listed(M1), 0);
}

#[test]
fn a_fallback_assignment_that_wins_the_race_replaces_the_pending_one() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.generator(2, 100, 100);
    t.quote(1, M1, 1, 10, 3);
    t.quote(2, M1, 2, 10, 4);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    t.assigned(1, 2, 2, 4);
    assert_eq!(
        t.status(1),
        AskStatus::Assigned {
            generator: addr(2),
            price: 2
        }
    );
    assert_eq!(t.gen_view(1).consumed_compute, 0);
    assert_eq!(t.gen_view(1).locked, 0);
    assert_eq!(
        (t.gen_view(2).consumed_compute, t.gen_view(2).locked),
        (4, PENALTY)
    );
    // Our relayed assignment is then skipped: nothing changes.
    t.ev(&Event::AssignmentSkipped {
        ask: 1,
        generator: addr(1),
        reason: SkipReason::AskNotOpen,
    });
    assert_eq!(
        t.status(1),
        AskStatus::Assigned {
            generator: addr(2),
            price: 2
        }
    );
}

#[test]
fn an_assignment_of_an_open_ask_is_applied() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 3);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.assigned(1, 1, 1, 3);
    assert_eq!(
        t.status(1),
        AskStatus::Assigned {
            generator: addr(1),
            price: 1
        }
    );
    assert_eq!(t.book.open_asks(Some(M1)), 0);
    assert_eq!(
        (t.gen_view(1).consumed_compute, t.gen_view(1).locked),
        (3, PENALTY)
    );
    // A second assignment of an assigned ask cannot happen on chain and is ignored.
    t.assigned(1, 1, 1, 3);
    assert_eq!(t.gen_view(1).consumed_compute, 3);
    // The chain assignment counts for "least recently assigned": 2 (never assigned) goes first.
    t.generator(2, 100, 100);
    t.quote(2, M1, 1, 10, 3);
    t.ask(2, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(2, 2)]);
}

#[test]
fn generator_side_skips_reopen_the_ask_and_exclude_nobody() {
    for reason in [
        SkipReason::NotJoined,
        SkipReason::PriceAboveReward,
        SkipReason::DeadlineTooSoon,
        SkipReason::InsufficientCompute,
        SkipReason::InsufficientStake,
        SkipReason::BelowMinStake,
        SkipReason::NoEnclaveKey,
    ] {
        let mut t = T::new();
        t.generator(1, 100, 100);
        t.generator(2, 100, 100);
        t.quote(1, M1, 1, 10, 1);
        t.quote(2, M1, 2, 10, 1);
        t.ask(1, M1, 5, NOW + 100, COST);
        assert_eq!(t.matches(NOW), vec![(1, 1)]);
        t.ev(&Event::AssignmentSkipped {
            ask: 1,
            generator: addr(1),
            reason,
        });
        assert_eq!(t.status(1), AskStatus::Open, "{reason}");
        assert_eq!(
            (t.gen_view(1).consumed_compute, t.gen_view(1).locked),
            (0, 0)
        );
        assert_eq!(t.book.ask(1).map(|a| a.excluded), Some(vec![]));
        // Nothing in the chain state the book tracks rules 1 out: it is chosen again.
        assert_eq!(t.matches(NOW), vec![(1, 1)], "{reason}");
        // The state that caused such a skip arrives as an event before it (here: 1 raised its price), and
        // decides the next choice.
        t.ev(&Event::QuoteSet {
            generator: addr(1),
            market: M1,
            quote: quote(9, 10, 1),
        });
        t.ev(&Event::AssignmentSkipped {
            ask: 1,
            generator: addr(1),
            reason,
        });
        assert_eq!(t.matches(NOW), vec![(1, 2)], "{reason}");
    }
}

#[test]
fn ask_side_skips_take_the_ask_off_the_book() {
    for reason in [SkipReason::AskNotOpen, SkipReason::AskExpired] {
        let mut t = T::new();
        t.generator(1, 100, 100);
        t.quote(1, M1, 1, 10, 1);
        t.ask(1, M1, 5, NOW + 100, COST);
        assert_eq!(t.matches(NOW), vec![(1, 1)]);
        t.ev(&Event::AssignmentSkipped {
            ask: 1,
            generator: addr(1),
            reason,
        });
        assert_eq!(t.status(1), AskStatus::Parked { reason });
        assert_eq!(t.gen_view(1).consumed_compute, 0);
        assert_eq!(t.matches(NOW), vec![]);
        // A later assignment (it was taken by someone else) still applies.
        t.assigned(1, 1, 1, 1);
        assert_eq!(
            t.status(1),
            AskStatus::Assigned {
                generator: addr(1),
                price: 1
            }
        );
    }
}

#[test]
fn a_frozen_market_skip_waits_for_the_unfreeze() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    t.ev(&Event::MarketFrozen {
        market: M1,
        frozen: true,
    });
    t.ev(&Event::AssignmentSkipped {
        ask: 1,
        generator: addr(1),
        reason: SkipReason::MarketNotActive,
    });
    assert_eq!(t.status(1), AskStatus::Open);
    assert_eq!(t.matches(NOW), vec![]);
    t.ev(&Event::MarketFrozen {
        market: M1,
        frozen: false,
    });
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
}

#[test]
fn skips_of_other_generators_or_asks_are_ignored() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.ask(2, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1), (2, 1)]);
    t.ev(&Event::AssignmentSkipped {
        ask: 1,
        generator: addr(2),
        reason: SkipReason::NotJoined,
    });
    t.ev(&Event::AssignmentSkipped {
        ask: 9,
        generator: addr(1),
        reason: SkipReason::NotJoined,
    });
    assert_eq!(t.status(1), AskStatus::Pending { generator: addr(1) });
    assert_eq!(t.gen_view(1).consumed_compute, 2);
}

#[test]
fn cancelling_a_pending_ask_releases_the_reservation() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    t.ev(&Event::AskClosed { ask: 1 });
    assert_eq!(t.status(1), AskStatus::Closed);
    assert_eq!(t.gen_view(1).locked, 0);
    t.ev(&Event::AssignmentSkipped {
        ask: 1,
        generator: addr(1),
        reason: SkipReason::AskNotOpen,
    });
    t.release_and_check(1);
    assert_eq!(t.status(1), AskStatus::Closed);
}

// ----- pending: restore and release -----

#[test]
fn release_pending_opens_the_ask_again() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    let m = t.book.match_asks(NOW, 10);
    assert_eq!(m.len(), 1);
    t.release_and_check(1);
    assert_eq!(t.status(1), AskStatus::Open);
    assert_eq!(
        (t.gen_view(1).consumed_compute, t.gen_view(1).locked),
        (0, 0)
    );
    // Releasing an open ask is a no-op; the ask matches again.
    t.release_and_check(1);
    assert_eq!(t.book.match_asks(NOW, 10), m);
    // If the dropped transaction is mined after all, the assignment applies.
    t.release_and_check(1);
    t.assigned(1, 1, 1, 1);
    assert_eq!(t.gen_view(1).consumed_compute, 1);
}

#[test]
fn exclude_pending_gives_the_ask_to_another_generator() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.generator(2, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.quote(2, M1, 2, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    // The service cannot sign for generator 1: the ask goes to the next cheapest, and its reservation is gone.
    t.book.exclude_pending(1);
    t.book.check();
    assert_eq!(t.status(1), AskStatus::Open);
    assert_eq!(t.gen_view(1).consumed_compute, 0);
    assert_eq!(t.matches(NOW), vec![(1, 2)]);
    // Excluding it too leaves nobody; an ask that is not pending is not touched.
    t.book.exclude_pending(1);
    assert_eq!(t.matches(NOW), vec![]);
    t.book.exclude_pending(1);
    assert_eq!(t.status(1), AskStatus::Open);
}

#[test]
fn restore_pending_reserves_again_after_a_replay() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 3, 10, 4);
    t.ask(1, M1, 5, NOW + 100, COST);
    let m = t.book.match_asks(NOW, 10);
    let before = t.book.clone();
    // A fresh book from the same events, then the outbox.
    let mut fresh = T::new();
    fresh.generator(1, 100, 100);
    fresh.quote(1, M1, 3, 10, 4);
    fresh.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(fresh.book.restore_pending(&m[0], NOW), Ok(()));
    fresh.book.check();
    assert_eq!(fresh.book.ask(1), before.ask(1));
    assert_eq!(fresh.book.generator(addr(1)), before.generator(addr(1)));
    // Twice is a no-op.
    assert_eq!(fresh.book.restore_pending(&m[0], NOW), Ok(()));
    assert_eq!(fresh.gen_view(1).consumed_compute, 4);
    // Another generator for the same ask is refused.
    let other = Match {
        generator: addr(2),
        ..m[0].clone()
    };
    assert_eq!(
        fresh.book.restore_pending(&other, NOW),
        Err(SkipReason::AskNotOpen)
    );
}

#[test]
fn restore_pending_reports_the_first_failing_rule() {
    let base = || {
        let mut t = T::new();
        t.market(3, true);
        t.generator(1, 100, 100);
        t.quote(1, M1, 3, 10, 4);
        t.quote(1, 3, 3, 10, 4);
        t.ask(1, M1, 5, NOW + 100, COST);
        t.ask(2, 3, 5, NOW + 100, COST);
        t
    };
    let m = Match {
        ask: 1,
        market: M1,
        generator: addr(1),
        max_price: 3,
        max_proof_time: 10,
    };
    let check = |t: &mut T, m: &Match, now: u64, want: SkipReason| {
        let before = format!("{:?}", t.book);
        assert_eq!(t.book.restore_pending(m, now), Err(want));
        assert_eq!(format!("{:?}", t.book), before, "{want}: nothing changes");
    };

    check(
        &mut base(),
        &Match {
            ask: 7,
            ..m.clone()
        },
        NOW,
        SkipReason::AskNotOpen,
    );
    check(&mut base(), &m, NOW + 101, SkipReason::AskExpired);
    let mut t = base();
    t.ev(&Event::MarketFrozen {
        market: M1,
        frozen: true,
    });
    check(&mut t, &m, NOW, SkipReason::MarketNotActive);
    check(
        &mut base(),
        &Match {
            ask: 2,
            market: 3,
            ..m.clone()
        },
        NOW,
        SkipReason::NoEnclaveKey,
    );
    check(
        &mut base(),
        &Match {
            generator: addr(2),
            ..m.clone()
        },
        NOW,
        SkipReason::NotJoined,
    );
    check(
        &mut base(),
        &Match {
            max_price: 2,
            ..m.clone()
        },
        NOW,
        SkipReason::PriceAboveReward,
    );
    check(
        &mut base(),
        &Match {
            max_proof_time: 9,
            ..m.clone()
        },
        NOW,
        SkipReason::DeadlineTooSoon,
    );
    check(&mut base(), &m, NOW + 91, SkipReason::DeadlineTooSoon);
    let mut t = base();
    t.ev(&Event::DeclaredComputeUpdated {
        generator: addr(1),
        declared_compute: 3,
    });
    check(&mut t, &m, NOW, SkipReason::InsufficientCompute);
    let mut t = base();
    t.ev(&Event::UnstakeRequested {
        generator: addr(1),
        amount: 81,
    });
    check(&mut t, &m, NOW, SkipReason::BelowMinStake);
    let mut t = base();
    t.ev(&Event::MarketCreated {
        market: 4,
        slashing_penalty: 101,
        min_stake: 100,
        confidential: false,
    });
    t.quote(1, 4, 3, 10, 4);
    t.ask(3, 4, 5, NOW + 100, COST);
    check(
        &mut t,
        &Match {
            ask: 3,
            market: 4,
            ..m.clone()
        },
        NOW,
        SkipReason::InsufficientStake,
    );
    // Looser caps than the quote are fine: the chain applies the current quote.
    let mut t = base();
    assert_eq!(
        t.book.restore_pending(
            &Match {
                max_price: 5,
                max_proof_time: 99,
                ..m
            },
            NOW
        ),
        Ok(())
    );
    t.book.check();
    assert_eq!(t.gen_view(1).consumed_compute, 4);
}

// ----- order across asks and markets -----

#[test]
fn asks_are_served_by_reward_then_age_across_markets() {
    let mut t = T::new();
    t.generator(1, 3, 1_000);
    t.quote(1, M1, 1, 10, 1);
    t.quote(1, M2, 1, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.ask(2, M2, 7, NOW + 100, COST);
    t.ask(3, M1, 7, NOW + 100, TIME);
    t.ask(4, M2, 6, NOW + 100, COST);
    // Compute for three: 7 (oldest), 7, 6; the reward-5 ask waits.
    assert_eq!(t.matches(NOW), vec![(2, 1), (3, 1), (4, 1)]);
    assert_eq!(t.book.open_asks(None), 1);
}

#[test]
fn an_unmatchable_ask_does_not_block_later_ones_and_limit_caps_the_round() {
    let mut t = T::new();
    t.generator(1, 100, 1_000);
    t.quote(1, M1, 10, 10, 1);
    t.ask(1, M1, 1_000, NOW + 5, COST); // too soon for anyone
    t.ask(2, M1, 500, NOW + 100, COST);
    t.ask(3, M2, 400, NOW + 100, COST); // nobody quotes in M2
    t.ask(4, M1, 9, NOW + 100, COST); // below every price
    t.ask(5, M1, 10, NOW + 100, TIME);
    t.ask(6, M1, 10, NOW + 100, COST);
    assert_eq!(t.book.match_asks(NOW, 1).len(), 1);
    assert_eq!(t.status(2), AskStatus::Pending { generator: addr(1) });
    assert_eq!(t.matches(NOW), vec![(5, 1), (6, 1)]);
    assert!(t.book.match_asks(NOW, 0).is_empty());
    for ask in [1, 3, 4] {
        assert_eq!(t.status(ask), AskStatus::Open);
    }
}

// ----- registry events -----

#[test]
fn leaving_deregistering_and_quote_updates_change_the_listing() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.quote(1, M2, 1, 10, 1);
    assert_eq!(t.gen_view(1).markets, vec![M1, M2]);
    t.ev(&Event::MarketLeft {
        generator: addr(1),
        market: M1,
    });
    assert_eq!(
        (t.listed(M1), t.book.market(M1).map(|m| m.quotes)),
        (0, Some(0))
    );
    t.ask(1, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![]);
    // Rejoin with a price above the reward, then lower it.
    t.quote(1, M1, 6, 10, 1);
    assert_eq!(t.matches(NOW), vec![]);
    t.quote(1, M1, 5, 10, 1);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    // A provisional match leaves no stamp; an assignment on chain does, and it survives leaving and rejoining.
    assert_eq!(t.book.quotes(M1)[0].last_assigned, None);
    t.ask(2, M1, 5, NOW + 100, COST);
    t.assigned(2, 1, 5, 1);
    t.ev(&Event::TaskCompleted { ask: 2 });
    t.ev(&Event::MarketLeft {
        generator: addr(1),
        market: M1,
    });
    t.quote(1, M1, 5, 10, 1);
    assert!(t.book.quotes(M1)[0].last_assigned.is_some());
    t.ev(&Event::MarketLeft {
        generator: addr(1),
        market: M1,
    });
    t.ev(&Event::MarketLeft {
        generator: addr(1),
        market: M2,
    });
    t.book.release_pending(1);
    t.ev(&Event::GeneratorDeregistered { generator: addr(1) });
    let v = t.gen_view(1);
    assert!(!v.registered && v.markets.is_empty());
    assert_eq!(
        v.stake, 100,
        "the staking position outlives the registration"
    );
    // Not registered: quotes are ignored.
    t.quote(1, M1, 1, 10, 1);
    assert_eq!(t.book.quotes(M1), vec![]);
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
}

#[test]
fn deregistering_drops_every_quote() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.quote(1, M2, 1, 10, 1);
    t.ev(&Event::GeneratorDeregistered { generator: addr(1) });
    assert_eq!((t.listed(M1), t.listed(M2)), (0, 0));
    assert!(t.book.quotes(M1).is_empty() && t.book.quotes(M2).is_empty());
}

#[test]
fn a_zero_proving_time_quote_means_not_joined() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.quote(1, M1, 1, 0, 1);
    assert!(t.book.quotes(M1).is_empty());
}

#[test]
fn unknown_ids_and_inconsistent_events_are_ignored() {
    let mut t = T::new();
    t.ev(&Event::MarketFrozen {
        market: 9,
        frozen: true,
    });
    t.ev(&Event::DeclaredComputeUpdated {
        generator: addr(1),
        declared_compute: 5,
    });
    t.ev(&Event::GeneratorDeregistered { generator: addr(1) });
    t.ev(&Event::MarketLeft {
        generator: addr(1),
        market: M1,
    });
    t.ev(&Event::AskCreated {
        ask: 1,
        market: 9,
        reward: 1,
        deadline: NOW,
        preference: COST,
    });
    assert_eq!(t.book.ask(1), None);
    t.ev(&Event::TaskAssigned {
        ask: 1,
        generator: addr(1),
        price: 1,
        compute_per_proof: 1,
    });
    t.ev(&Event::TaskCompleted { ask: 1 });
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: 1,
        reopened: true,
    });
    t.ev(&Event::AskClosed { ask: 1 });
    t.ev(&Event::AssignmentSkipped {
        ask: 1,
        generator: addr(1),
        reason: SkipReason::None,
    });
    t.ev(&Event::UnstakeRequested {
        generator: addr(3),
        amount: 5,
    });
    assert_eq!(t.gen_view(3).stake, 0);
    t.generator(1, 10, 10);
    t.ev(&Event::GeneratorRegistered {
        generator: addr(1),
        declared_compute: 99,
    });
    assert_eq!(
        t.gen_view(1).declared_compute,
        10,
        "a second registration is ignored"
    );
    t.ev(&Event::MarketCreated {
        market: M1,
        slashing_penalty: 1,
        min_stake: 1,
        confidential: true,
    });
    assert_eq!(t.book.market(M1).map(|m| m.slashing_penalty), Some(PENALTY));
    t.ask(2, M1, 5, NOW, COST);
    t.ev(&Event::AskCreated {
        ask: 2,
        market: M2,
        reward: 9,
        deadline: NOW,
        preference: TIME,
    });
    assert_eq!(t.book.ask(2).map(|a| a.market), Some(M1));
    assert!(t.book.match_asks(NOW, 10).is_empty());
    t.release_and_check(99);
}

// ----- views -----

#[test]
fn views_report_the_book() {
    let mut t = T::new();
    t.generator(2, 100, 100);
    t.generator(1, 100, 100);
    t.quote(1, M1, 5, 10, 1);
    t.quote(2, M1, 4, 20, 1);
    t.ask(1, M1, 9, NOW + 100, COST);
    t.ask(2, M1, 9, NOW + 100, COST);
    t.ask(3, M1, 1, NOW + 100, COST);
    t.ask(4, M1, 9, NOW + 100, TIME);
    assert_eq!(t.matches(NOW), vec![(1, 2), (2, 2), (4, 1)]);
    t.assigned(1, 2, 4, 1);
    let m = t.book.market(M1).expect("market");
    assert_eq!(
        m,
        MarketView {
            market: M1,
            slashing_penalty: PENALTY,
            min_stake: MIN_STAKE,
            confidential: false,
            frozen: false,
            open_asks: 1,
            pending_asks: 2,
            assigned_asks: 1,
            quotes: 2,
            listed: 2,
        }
    );
    assert_eq!(
        t.book
            .markets()
            .iter()
            .map(|m| m.market)
            .collect::<Vec<_>>(),
        vec![M1, M2]
    );
    let quotes = t.book.quotes(M1);
    assert_eq!(
        quotes.iter().map(|q| q.generator).collect::<Vec<_>>(),
        vec![addr(2), addr(1)]
    );
    assert_eq!(quotes[0].last_assigned, Some(Seq::new(t.block, 0)));
    assert_eq!(
        t.book
            .generators()
            .iter()
            .map(|g| g.generator)
            .collect::<Vec<_>>(),
        vec![addr(1), addr(2)]
    );
    assert_eq!(t.book.open_asks(Some(M1)), 1);
    assert_eq!(t.book.open_asks(Some(9)), 0);
    assert_eq!(t.book.ask(1).map(|a| a.created), Some(Seq::new(9, 0)));
    assert!(t.book.quotes(9).is_empty());
    assert_eq!(t.book.generator(addr(7)), None);
    // Finished asks stay visible until forgotten, which changes nothing else.
    t.ev(&Event::TaskCompleted { ask: 1 });
    assert_eq!(t.status(1), AskStatus::Done);
    t.book.forget_finished();
    assert_eq!(t.book.ask(1), None);
    t.book.check();
    t.ev(&Event::AskCreated {
        ask: 2,
        market: M1,
        reward: 1,
        deadline: 1,
        preference: COST,
    });
    assert_eq!(t.status(2), AskStatus::Pending { generator: addr(2) });
    // Views serialise (the HTTP API returns them).
    let json = serde_json::to_string(&t.book.ask(2)).expect("serialise");
    assert!(json.contains("\"status\":\"pending\""), "{json}");
}

#[test]
fn skips_of_asks_not_pending_record_the_verdict_as_on_replay() {
    let mut t = T::new();
    t.generator(1, 100, 100);
    t.generator(2, 100, 100);
    t.quote(1, M1, 1, 10, 1);
    t.quote(2, M1, 2, 10, 1);
    t.ask(1, M1, 5, NOW + 100, COST);
    t.ask(2, M1, 5, NOW + 100, COST);
    t.ev(&Event::AssignmentSkipped {
        ask: 1,
        generator: addr(1),
        reason: SkipReason::InsufficientStake,
    });
    t.ev(&Event::AssignmentSkipped {
        ask: 2,
        generator: addr(1),
        reason: SkipReason::AskNotOpen,
    });
    assert_eq!(t.book.ask(1).map(|a| a.excluded), Some(vec![]));
    assert_eq!(
        t.status(2),
        AskStatus::Parked {
            reason: SkipReason::AskNotOpen
        }
    );
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    // A skip of another generator while ours is pending leaves ours alone.
    t.ask(3, M1, 5, NOW + 100, COST);
    assert_eq!(t.matches(NOW), vec![(3, 1)]);
    t.ev(&Event::AssignmentSkipped {
        ask: 3,
        generator: addr(2),
        reason: SkipReason::NotJoined,
    });
    t.ev(&Event::AssignmentSkipped {
        ask: 3,
        generator: addr(2),
        reason: SkipReason::AskExpired,
    });
    let view = t.book.ask(3).expect("ask");
    assert_eq!(
        (view.status, view.excluded),
        (AskStatus::Pending { generator: addr(1) }, vec![])
    );
}

// ----- internal invariants under random input -----

mod random {
    use super::*;
    use proptest::prelude::*;

    /// Any event on a handful of ids, consistent or not.
    fn event() -> impl Strategy<Value = Event> {
        let g = (1u8..5).prop_map(addr);
        let m = 1u64..4;
        let ask = 1u64..12;
        let reason = (0u8..12).prop_map(|r| SkipReason::try_from(r).unwrap_or(SkipReason::None));
        prop_oneof![
            (m.clone(), 1u128..20, 0u128..30, any::<bool>()).prop_map(
                |(market, slashing_penalty, min_stake, confidential)| {
                    Event::MarketCreated {
                        market,
                        slashing_penalty,
                        min_stake,
                        confidential,
                    }
                }
            ),
            (m.clone(), any::<bool>())
                .prop_map(|(market, frozen)| Event::MarketFrozen { market, frozen }),
            (g.clone(), 0u64..20).prop_map(|(generator, declared_compute)| {
                Event::GeneratorRegistered {
                    generator,
                    declared_compute,
                }
            }),
            (g.clone(), 0u64..20).prop_map(|(generator, declared_compute)| {
                Event::DeclaredComputeUpdated {
                    generator,
                    declared_compute,
                }
            }),
            g.clone()
                .prop_map(|generator| Event::GeneratorDeregistered { generator }),
            (g.clone(), m.clone(), 0u128..10, 0u64..10, 0u64..6).prop_map(
                |(generator, market, price, time, compute)| {
                    Event::QuoteSet {
                        generator,
                        market,
                        quote: quote(price, time, compute),
                    }
                }
            ),
            (g.clone(), m.clone())
                .prop_map(|(generator, market)| Event::MarketLeft { generator, market }),
            (g.clone(), 0u128..80)
                .prop_map(|(generator, stake)| Event::Staked { generator, stake }),
            (g.clone(), 0u128..30)
                .prop_map(|(generator, amount)| Event::UnstakeRequested { generator, amount }),
            (g.clone(), 0u128..30)
                .prop_map(|(generator, amount)| Event::UnstakeCancelled { generator, amount }),
            (g.clone(), m.clone(), any::<bool>()).prop_map(|(generator, market, present)| {
                Event::GeneratorKeySet {
                    generator,
                    market,
                    present,
                }
            }),
            (ask.clone(), m, 0u128..12, NOW..NOW + 20, any::<bool>()).prop_map(
                |(ask, market, reward, deadline, t)| {
                    Event::AskCreated {
                        ask,
                        market,
                        reward,
                        deadline,
                        preference: if t { TIME } else { COST },
                    }
                }
            ),
            (ask.clone(), g.clone(), 0u128..10, 0u64..6).prop_map(
                |(ask, generator, price, compute_per_proof)| {
                    Event::TaskAssigned {
                        ask,
                        generator,
                        price,
                        compute_per_proof,
                    }
                }
            ),
            (ask.clone(), g, reason).prop_map(|(ask, generator, reason)| {
                Event::AssignmentSkipped {
                    ask,
                    generator,
                    reason,
                }
            }),
            ask.clone().prop_map(|ask| Event::TaskCompleted { ask }),
            (ask.clone(), 0u128..20, any::<bool>()).prop_map(|(ask, stake_taken, reopened)| {
                Event::TaskFailed {
                    ask,
                    stake_taken,
                    reopened,
                }
            }),
            ask.prop_map(|ask| Event::AskClosed { ask }),
        ]
    }

    #[derive(Clone, Debug)]
    enum Step {
        Event(Event),
        Match(u64, usize),
        Release(AskId),
        Restore(AskId, u8, u128, u64, u64),
        Forget,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => event().prop_map(Step::Event),
            2 => (0u64..25, 0usize..5).prop_map(|(dt, limit)| Step::Match(NOW + dt, limit)),
            1 => (1u64..12).prop_map(Step::Release),
            1 => (1u64..12, 1u8..5, 0u128..10, 0u64..10, 0u64..25)
                .prop_map(|(ask, g, price, time, dt)| Step::Restore(ask, g, price, time, NOW + dt)),
            1 => Just(Step::Forget),
        ]
    }

    proptest! {
        /// Whatever arrives, `apply` does not panic and every internal invariant holds (listing = capacity fits,
        /// index = listed quotes, counters, reservations = consumed compute and locked stake).
        #[test]
        fn invariants_hold_under_any_input(steps in prop::collection::vec(step(), 1..120)) {
            let mut t = T { book: Book::new(), block: 0 };
            for s in steps {
                match s {
                    Step::Event(e) => t.ev(&e),
                    Step::Match(now, limit) => {
                        let got = t.book.match_asks(now, limit);
                        prop_assert!(got.len() <= limit);
                        t.book.check();
                    }
                    Step::Release(ask) => t.release_and_check(ask),
                    Step::Restore(ask, g, max_price, max_proof_time, now) => {
                        let market = t.book.ask(ask).map_or(1, |a| a.market);
                        let m = Match { ask, market, generator: addr(g), max_price, max_proof_time };
                        let before = t.book.generators();
                        if t.book.restore_pending(&m, now).is_err() {
                            prop_assert_eq!(t.book.generators(), before);
                        }
                        t.book.check();
                    }
                    Step::Forget => {
                        t.book.forget_finished();
                        t.book.check();
                    }
                }
            }
        }
    }
}

// ----- restaked collateral -----

/// A restaking pool with 100-second epochs from 0, a 10-second offset, a 150-second slash window and no
/// minimum lock; its latest epoch is `epoch`.
fn pool(t: &mut T, epoch: u64) {
    t.ev(&Event::CollateralPool {
        pool: 1,
        epoch_start: 0,
        epoch_duration: 100,
        offset: 10,
        slash_window: 150,
        min_lock: 0,
    });
    t.ev(&Event::PoolEpoch { pool: 1, epoch });
}

fn restake(t: &mut T, i: u8, epoch: u64, stake: u128) {
    t.ev(&Event::PoolStake {
        pool: 1,
        generator: addr(i),
        epoch,
        stake,
    });
}

#[test]
fn a_generator_backed_only_by_restaked_stake_is_matched_within_its_pool_stake() {
    let mut t = T::new();
    // Epoch 10's snapshot (capture 1000) applies until 1110; tasks may be due until 1150.
    pool(&mut t, 10);
    t.generator(1, 100, 0);
    t.quote(1, M1, 5, 60, 1);
    restake(&mut t, 1, 10, 25);
    for ask in 1..=3 {
        t.ask(ask, M1, 100, NOW + 500, COST);
    }
    // 25 restaked covers the minimum (20) and two penalties of 10, not three.
    assert_eq!(t.matches(NOW), vec![(1, 1), (2, 1)]);
    assert_eq!(t.gen_view(1).locked, 0, "the native stake is untouched");
    // The first task is mined in the pool (its RestakeLocked precedes its TaskAssigned), then slashed: the
    // queued slash stays pending until a snapshot settles it, so nothing frees up.
    t.ev(&Event::RestakeLocked { pool: 1, ask: 1 });
    t.assigned(1, 1, 5, 1);
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: PENALTY,
        reopened: false,
    });
    t.ev(&Event::PoolSlashQueued {
        pool: 1,
        generator: addr(1),
        amount: PENALTY,
    });
    assert_eq!(
        t.gen_view(1).stake,
        0,
        "a restaked slash takes no native stake"
    );
    assert!(t.matches(NOW + 1).is_empty());
    // Settled on the L1 (and the next snapshot shows the lower stake): the third ask fits again once the pending
    // task is gone.
    t.ev(&Event::PoolSlashSettled {
        pool: 1,
        generator: addr(1),
        amount: PENALTY,
    });
    t.ev(&Event::PoolEpoch { pool: 1, epoch: 11 });
    restake(&mut t, 1, 11, 40);
    assert_eq!(t.matches(1_101), vec![(3, 1)]);
}

#[test]
fn native_stake_covers_first_and_stake_in_two_pools_is_never_added() {
    let mut t = T::new();
    pool(&mut t, 10);
    // 15 native and 15 restaked: neither meets the minimum of 20 alone.
    t.generator(1, 100, 15);
    t.quote(1, M1, 5, 60, 1);
    restake(&mut t, 1, 10, 15);
    t.ask(1, M1, 100, NOW + 500, COST);
    assert!(t.matches(NOW).is_empty());
    // With 30 native, the native pool covers it and the restaked stake stays free.
    t.ev(&Event::Staked {
        generator: addr(1),
        stake: 30,
    });
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    assert_eq!(t.gen_view(1).locked, PENALTY);
}

#[test]
fn a_stale_snapshot_or_a_closing_slash_window_stops_restaked_matches() {
    let mut t = T::new();
    pool(&mut t, 10);
    t.generator(1, 100, 0);
    t.quote(1, M1, 5, 60, 1);
    restake(&mut t, 1, 10, 100);
    t.ask(1, M1, 100, NOW + 1_000, COST);
    // Due at 1091 + 60 = 1151 > capture 1000 + window 150: beyond the slash window.
    assert!(t.matches(1_091).is_empty());
    let m = Match {
        ask: 1,
        market: M1,
        generator: addr(1),
        max_price: 5,
        max_proof_time: 60,
    };
    assert_eq!(
        t.book.restore_pending(&m, 1_091),
        Err(SkipReason::BeyondSlashWindow)
    );
    // Past 1110 the snapshot is stale.
    assert_eq!(
        t.book.restore_pending(&m, 1_110),
        Err(SkipReason::CollateralStale)
    );
    // The next epoch's snapshot: matched again.
    t.ev(&Event::PoolEpoch { pool: 1, epoch: 11 });
    restake(&mut t, 1, 11, 100);
    assert_eq!(t.matches(1_111), vec![(1, 1)]);
}

#[test]
fn an_operator_missing_from_the_latest_epoch_has_no_restaked_stake() {
    let mut t = T::new();
    pool(&mut t, 10);
    t.generator(1, 100, 0);
    t.quote(1, M1, 5, 60, 1);
    restake(&mut t, 1, 10, 100);
    t.ev(&Event::PoolEpoch { pool: 1, epoch: 11 });
    t.ask(1, M1, 100, NOW + 1_000, COST);
    assert!(t.matches(1_101).is_empty());
}

#[test]
fn a_pending_restaked_slash_counts_against_the_minimum_stake() {
    let mut t = T::new();
    pool(&mut t, 10);
    t.generator(1, 100, 0);
    t.quote(1, M1, 5, 60, 1);
    // Exactly the minimum (20): one task, then slashed.
    restake(&mut t, 1, 10, 20);
    t.ask(1, M1, 100, NOW + 500, COST);
    assert_eq!(t.matches(NOW), vec![(1, 1)]);
    t.ev(&Event::RestakeLocked { pool: 1, ask: 1 });
    t.assigned(1, 1, 5, 1);
    t.ev(&Event::TaskFailed {
        ask: 1,
        stake_taken: PENALTY,
        reopened: false,
    });
    t.ev(&Event::PoolSlashQueued {
        pool: 1,
        generator: addr(1),
        amount: PENALTY,
    });
    t.ask(2, M1, 100, NOW + 500, COST);
    // 10 free would cover another penalty, but 20 - 10 pending is below the minimum, as after a native slash.
    assert!(t.matches(NOW + 1).is_empty());
    let m = Match {
        ask: 2,
        market: M1,
        generator: addr(1),
        max_price: 5,
        max_proof_time: 60,
    };
    assert_eq!(
        t.book.restore_pending(&m, NOW + 1),
        Err(SkipReason::BelowMinStake)
    );
}
