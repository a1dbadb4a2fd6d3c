//! Live progress: a bar per market (asks settled of those planned, with created / assigned counts) on a
//! terminal; plain lines for the notable events otherwise; nothing at all for JSON output and in tests.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::{
    io::IsTerminal as _,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How often the line mode prints the counts.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// Where a market's asks stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketCounts {
    /// Market name.
    pub market: String,
    /// Asks created.
    pub created: u64,
    /// Asks assigned at least once.
    pub assigned: u64,
    /// Asks settled (proof, attestation or refund).
    pub settled: u64,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars on a terminal, lines otherwise.
    Auto,
    /// Nothing (JSON output, tests).
    Quiet,
}

/// The progress display of a run.
#[derive(Debug)]
pub struct Progress {
    multi: Option<MultiProgress>,
    bars: Vec<ProgressBar>,
    lines: bool,
    last_line: Mutex<Option<Instant>>,
}

impl Progress {
    /// Bars for `planned` asks per market (`(name, planned)`).
    pub fn new(mode: Mode, planned: &[(String, u64)]) -> Self {
        let terminal = std::io::stderr().is_terminal();
        if mode == Mode::Quiet || !terminal {
            return Self {
                multi: None,
                bars: Vec::new(),
                lines: mode == Mode::Auto,
                last_line: Mutex::new(None),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix:>14} {bar:30.cyan/blue} {pos}/{len} proven or settled · {msg}",
        )
        .expect("static template is valid");
        let bars = planned
            .iter()
            .map(|(name, n)| {
                let bar = multi.add(ProgressBar::new(*n));
                bar.set_style(style.clone());
                bar.set_prefix(name.clone());
                bar
            })
            .collect();
        Self {
            multi: Some(multi),
            bars,
            lines: false,
            last_line: Mutex::new(None),
        }
    }

    /// A step of the start-up.
    pub fn step(&self, line: &str) {
        self.note(&format!("devnet: {line}"));
    }

    /// A line above the bars (or on its own).
    #[allow(clippy::print_stderr)]
    pub fn note(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None if self.lines => eprintln!("{line}"),
            None => {}
        }
    }

    /// New counts.
    pub fn update(&self, counts: &[MarketCounts]) {
        if self.lines {
            let mut last = self
                .last_line
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_none_or(|at| at.elapsed() >= LINE_EVERY) {
                *last = Some(Instant::now());
                let parts: Vec<String> = counts
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} created, {} assigned, {} settled",
                            c.market, c.created, c.assigned, c.settled
                        )
                    })
                    .collect();
                self.note(&parts.join(" | "));
            }
        }
        for (bar, c) in self.bars.iter().zip(counts) {
            bar.set_position(c.settled);
            bar.set_message(format!("{} created, {} assigned", c.created, c.assigned));
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        for bar in &self.bars {
            bar.finish_and_clear();
        }
    }
}
