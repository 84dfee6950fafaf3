//! A gzip bomb costs at most the message limit: the process's peak RSS
//! barely moves while the client inflates 256 MiB of zeros sent as 256 KiB
//! (alone in its test binary, so that nothing else moves the peak).

mod support;

use hypersockets::{Decompression, HyperSocketError, WsMessage};
use hypersockets_testkit::CloseCause;
use support::inflate::{gzip_zeros, inflating_client};
use support::{WAIT, disconnect_error};

const LIMIT: usize = 1 << 20;
const BOMB: usize = 256 << 20;

/// The process's peak resident set (`VmHWM`), in KiB; `None` off Linux.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "says why the check was skipped")]
async fn a_gzip_bomb_leaves_the_peak_rss_flat() {
    let bomb = gzip_zeros(BOMB);
    let (exchange, control, client, conn) = inflating_client(Decompression::Gzip, LIMIT).await;
    let mut events = client.events();
    let Some(before) = peak_rss_kib() else {
        println!("no /proc/self/status here: peak RSS not checked");
        return;
    };

    control.send(conn, WsMessage::binary(bomb)).unwrap();
    let cause = control.wait_for_close(conn, WAIT).await.unwrap();
    assert!(
        matches!(&cause, CloseCause::ClientClosed(Some(frame)) if frame.code.as_u16() == 1009),
        "{cause:?}"
    );
    let error = disconnect_error(&mut events).await;
    assert!(
        matches!(error, HyperSocketError::MessageTooLarge { .. }),
        "{error:?}"
    );
    let after = peak_rss_kib().unwrap();
    // Inflating it all would take 256 MiB; the limit is 1 MiB. 32 MiB
    // leaves room for the runtime's own growth meanwhile.
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(grown_mib < 32, "peak RSS grew {grown_mib} MiB");
    client.close().await.unwrap();
    exchange.shutdown().await;
}
