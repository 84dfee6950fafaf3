//! What the transport sets on its socket: OS TCP keepalive, on by default,
//! tuned or off as the client says (read back from the kernel's table of
//! the process's sockets).

#![cfg(target_os = "linux")]

use std::time::Duration;

use hypersockets::TcpKeepalive;

use super::plain;
use crate::recovery::Builder;
use crate::support::raw::RawServer;
use crate::support::{Collected, client_builder, within};

/// The timer of the established socket from 127.0.0.1:`local` to
/// 127.0.0.1:`remote` in `/proc/self/net/tcp`: (timer kind, ticks left).
/// Timer kind 2 on an established socket is the keepalive timer
/// (`sk_timer`); ticks are USER_HZ (100/s).
fn keepalive_timer(local: u16, remote: u16) -> (u8, u64) {
    let table = std::fs::read_to_string("/proc/self/net/tcp").unwrap();
    let (local, remote) = (
        format!("0100007F:{local:04X}"),
        format!("0100007F:{remote:04X}"),
    );
    let fields = table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| {
            fields.get(1) == Some(&local.as_str())
                && fields.get(2) == Some(&remote.as_str())
                && fields.get(3) == Some(&"01")
        })
        .unwrap_or_else(|| panic!("no established socket {local} → {remote}:\n{table}"));
    let (kind, left) = fields[5].split_once(':').unwrap();
    (
        kind.parse().unwrap(),
        u64::from_str_radix(left, 16).unwrap(),
    )
}

/// Connects a client built by `configure` to a bare server and returns the
/// keepalive timer of the client's socket.
async fn client_socket_timer(
    configure: impl FnOnce(Builder) -> Builder,
) -> (u8, u64) {
    let server = RawServer::start().await;
    let builder = client_builder(
        server.url(),
        &[],
        &Collected::default(),
        &Collected::default(),
    )
    .transport(plain());
    let client = configure(builder).build().unwrap();
    let (connected, peer) = tokio::join!(client.connect(), within("accept", server.accept()));
    connected.unwrap();
    let timer = keepalive_timer(
        peer.writer.peer_addr().unwrap().port(),
        peer.writer.local_addr().unwrap().port(),
    );
    // No listener left: the reconnect after the drop is refused at once.
    drop(server);
    drop(peer);
    client.close().await.unwrap();
    timer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transport_sets_tcp_keepalive_on_its_socket() {
    // Default: on, first probe after 30 s.
    let (kind, left) = client_socket_timer(|b| b).await;
    assert_eq!(kind, 2, "keepalive timer armed");
    // At most the configured 30 s (3000 ticks) left, and more than the 7 s
    // tuned below: a machine would have to stall 23 s to blur the two.
    assert!((701..=3000).contains(&left), "{left} ticks left");
    // Tuned.
    let (kind, left) = client_socket_timer(|b| {
        b.tcp_keepalive(TcpKeepalive::default().idle(Duration::from_secs(7)))
    })
    .await;
    assert_eq!(kind, 2, "keepalive timer armed");
    assert!((1..=700).contains(&left), "{left} ticks left");
    // Off.
    let (kind, _) = client_socket_timer(|b| b.no_tcp_keepalive()).await;
    assert_eq!(kind, 0, "no keepalive timer");
}
