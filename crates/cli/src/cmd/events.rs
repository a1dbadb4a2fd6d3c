//! `kalypso events`.

use crate::context::Ctx;
use futures::StreamExt;
use kalypso_sdk::EventRecord;
use std::time::Duration;

pub(super) async fn run(ctx: &Ctx, from_block: u64, follow: bool) -> anyhow::Result<()> {
    let client = &ctx.client;
    if follow {
        let stream = client.follow_events(from_block, Duration::from_secs(1));
        futures::pin_mut!(stream);
        loop {
            tokio::select! {
                next = stream.next() => match next {
                    Some(record) => print(ctx, &record?),
                    None => return Ok(()),
                },
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    }
    let head = client.block_number().await?;
    for record in client.events(from_block..=head).await? {
        print(ctx, &record);
    }
    Ok(())
}

/// One line per event: `block 12 tx 0x… AskCreated { … }`, or a JSON object per line with `--json`.
fn print(ctx: &Ctx, record: &EventRecord) {
    let body = record.event.to_string();
    let value = serde_json::json!({
        "block": record.block_number,
        "blockHash": record.block_hash,
        "tx": record.tx_hash,
        "logIndex": record.log_index,
        "contract": record.event.contract(),
        "event": record.event.name(),
        "detail": body,
    });
    if ctx.out.is_json_lines() {
        ctx.out.print_line(&value.to_string());
    } else {
        ctx.out.print_line(&format!(
            "block {:>6}  {}  {body}",
            record.block_number, record.tx_hash
        ));
    }
}
