//! Everything the CLI prints: human tables and messages, or JSON with `--json`. The only module that writes to
//! stdout.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::{io::IsTerminal, time::Duration};

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    /// Human output, or JSON when `json`.
    pub(crate) const fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints a result: as JSON (`value`), or as the human rendering `human`.
    #[allow(clippy::print_stdout)]
    pub(crate) fn print<T: Serialize>(self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(text) => println!("{text}"),
                Err(e) => println!("{{\"error\": \"cannot encode output: {e}\"}}"),
            }
        } else {
            println!("{}", human());
        }
    }

    /// Whether results are JSON (streams print one JSON object per line).
    pub(crate) const fn is_json_lines(self) -> bool {
        self.json
    }

    /// Prints one line as is (streams: one event per line).
    #[allow(clippy::print_stdout)]
    pub(crate) fn print_line(self, line: &str) {
        println!("{line}");
    }

    /// A progress line on stderr (also with `--json`: stdout keeps the result alone).
    #[allow(clippy::print_stderr)]
    pub(crate) fn note(self, line: &str) {
        eprintln!("{line}");
    }

    /// A spinner on stderr while waiting (hidden for JSON output and when stderr is not a terminal).
    pub(crate) fn spinner(self, message: impl Into<String>) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                .expect("static template is valid"),
        );
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// A progress bar over `len` steps on stderr (hidden like [`Self::spinner`]).
    pub(crate) fn progress(self, len: u64, message: impl Into<String>) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} {msg} {elapsed:.dim}")
                .expect("static template is valid"),
        );
        bar.set_message(message.into());
        bar
    }
}

/// A table with a header row.
pub(crate) fn table<const N: usize>(
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

/// A two-column key/value table.
pub(crate) fn fields(rows: impl IntoIterator<Item = (&'static str, String)>) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    for (k, v) in rows {
        table.add_row([k.to_owned(), v]);
    }
    table.to_string()
}
