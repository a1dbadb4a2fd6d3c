//! New-head notifications over a websocket, for services that otherwise poll: a background task subscribes to
//! `newHeads`, wakes a [`Notify`] on every head and reconnects with a back-off when the socket drops.

use alloy::providers::{Provider, ProviderBuilder, WsConnect};
use futures::StreamExt;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{sync::Notify, task::JoinHandle};
use tracing::{debug, info, warn};

/// First wait before reconnecting; doubles per failed attempt up to [`MAX_RECONNECT_BACKOFF`].
const MIN_RECONNECT_BACKOFF: Duration = Duration::from_millis(250);

/// Longest wait between reconnection attempts.
pub const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(10);

/// A background subscription to new heads that wakes a [`Notify`] once per head (a wake that finds nobody
/// waiting is kept for the next `notified().await`, so a head that arrives while the service is busy is not
/// lost). The subscription is a hint, not a source of truth: keep a poll timer beside it, since heads are
/// missed while the socket reconnects.
///
/// Spawned on the current tokio runtime; dropping the watcher stops it. The URL is never logged (hosted
/// endpoints carry API keys in it).
///
/// ```no_run
/// # async fn example() {
/// use std::{sync::Arc, time::Duration};
/// let wake = Arc::new(tokio::sync::Notify::new());
/// let _heads = kalypso_sdk::HeadWatcher::spawn("ws://127.0.0.1:8545", wake.clone());
/// loop {
///     tokio::select! {
///         () = wake.notified() => {}
///         () = tokio::time::sleep(Duration::from_secs(12)) => {}
///     }
///     // ... read the chain up to the new head ...
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct HeadWatcher {
    task: JoinHandle<()>,
    state: Arc<WatchState>,
}

#[derive(Debug, Default)]
struct WatchState {
    subscribed: AtomicBool,
    heads: AtomicU64,
}

impl HeadWatcher {
    /// Starts watching the websocket endpoint `url` (`ws://` or `wss://`), waking `wake` on every new head.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn(url: impl Into<String>, wake: Arc<Notify>) -> Self {
        let state = Arc::new(WatchState::default());
        let task = tokio::spawn(watch(url.into(), wake, state.clone()));
        Self { task, state }
    }

    /// Whether the subscription is live now (false while connecting or reconnecting).
    pub fn is_subscribed(&self) -> bool {
        self.state.subscribed.load(Ordering::Relaxed)
    }

    /// New heads received so far.
    pub fn heads(&self) -> u64 {
        self.state.heads.load(Ordering::Relaxed)
    }
}

impl Drop for HeadWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `url` names a websocket endpoint (`ws://` or `wss://`); checked before a service starts, so a typo
/// is an error rather than a watcher that never connects.
pub fn is_ws_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("ws://") || lower.starts_with("wss://")) && lower.len() > "wss://".len()
}

async fn watch(url: String, wake: Arc<Notify>, state: Arc<WatchState>) {
    let mut backoff = MIN_RECONNECT_BACKOFF;
    // The first failure of a run of failures is a warning (a wrong URL or a node without websockets should be
    // visible); the retries that follow are debug.
    let mut failing = false;
    loop {
        let connected = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_ws(WsConnect::new(url.clone()))
            .await;
        let failure = match connected {
            Ok(provider) => match provider.subscribe_blocks().await {
                Ok(subscription) => {
                    state.subscribed.store(true, Ordering::Relaxed);
                    info!(target: "kalypso::sdk::heads", "subscribed to new heads");
                    let mut heads = subscription.into_stream();
                    let mut received = false;
                    while let Some(head) = heads.next().await {
                        received = true;
                        state.heads.fetch_add(1, Ordering::Relaxed);
                        debug!(target: "kalypso::sdk::heads", block = head.number, "new head");
                        wake.notify_one();
                    }
                    state.subscribed.store(false, Ordering::Relaxed);
                    warn!(target: "kalypso::sdk::heads", "new-head subscription ended; reconnecting");
                    if received {
                        backoff = MIN_RECONNECT_BACKOFF;
                        failing = false;
                    }
                    // Whatever arrived meanwhile is read by the service's next round.
                    wake.notify_one();
                    None
                }
                Err(e) => Some(format!("subscribing to new heads failed: {e}")),
            },
            Err(e) => Some(format!("websocket unavailable: {e}")),
        };
        if let Some(error) = failure {
            if failing {
                debug!(target: "kalypso::sdk::heads", %error, retry_in = ?backoff, "still no new-head subscription");
            } else {
                warn!(target: "kalypso::sdk::heads", %error, retry_in = ?backoff, "no new-head subscription; polling until it connects");
                failing = true;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_RECONNECT_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_websocket_urls_pass() {
        assert!(is_ws_url("ws://127.0.0.1:8545"));
        assert!(is_ws_url("WSS://eth.example/v2/key"));
        assert!(!is_ws_url("http://127.0.0.1:8545"));
        assert!(!is_ws_url("ws://"));
        assert!(!is_ws_url("127.0.0.1:8545"));
    }
}
