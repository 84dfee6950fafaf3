//! The chaos proxy between two raw TCP ends on 127.0.0.1: toxics delay
//! and hold bytes back but never lose or alter them; a reset reaches both
//! ends; a FIN passes as a FIN.

use std::time::Duration;

use hypersockets_testkit::{ChaosProxy, Direction, Toxics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

/// A proxy in front of a fresh listener, a client through it, and the
/// server's end of that connection.
async fn connected(seed: u64) -> (ChaosProxy, TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = ChaosProxy::start(listener.local_addr().unwrap(), seed)
        .await
        .unwrap();
    let client = TcpStream::connect(proxy.local_addr()).await.unwrap();
    let (server, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    (proxy, client, server)
}

async fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    tokio::time::timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("bytes in time")
        .unwrap();
    buf
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxics_deliver_every_byte_in_order_both_ways() {
    let (proxy, mut client, mut server) = connected(1).await;
    proxy.set_toxics(
        Toxics::new()
            .latency(Duration::from_millis(1))
            .jitter(Duration::from_millis(2))
            .slice(7)
            .bandwidth(2_000_000),
    );
    let bytes = pattern(50_000);
    let (sent, got) = tokio::join!(client.write_all(&bytes), read_exactly(&mut server, 50_000));
    sent.unwrap();
    assert_eq!(got, bytes);
    let (sent, got) = tokio::join!(server.write_all(&bytes), read_exactly(&mut client, 50_000));
    sent.unwrap();
    assert_eq!(got, bytes);
    assert_eq!(proxy.connections().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_hole_holds_bytes_back_and_releases_them() {
    let (proxy, mut client, mut server) = connected(2).await;
    proxy.set_toxics(Toxics::new().black_hole(Direction::Downstream));
    server.write_all(b"held").await.unwrap();
    // The other way still flows, and nothing came this way meanwhile.
    client.write_all(b"up").await.unwrap();
    assert_eq!(read_exactly(&mut server, 2).await, b"up");
    let mut one = [0; 1];
    assert_eq!(
        client.try_read(&mut one).map_err(|e| e.kind()).unwrap_err(),
        std::io::ErrorKind::WouldBlock,
        "nothing gets through a black hole"
    );
    proxy.set_toxics(Toxics::new());
    assert_eq!(read_exactly(&mut client, 4).await, b"held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_reaches_both_ends() {
    let (proxy, mut client, mut server) = connected(3).await;
    // The pumps wait on the black hole; the reset still ends them.
    proxy.set_toxics(Toxics::new().black_hole(Direction::Upstream));
    let [id] = proxy.connections()[..] else {
        panic!("one connection")
    };
    assert!(proxy.reset(id));
    let mut buf = [0; 16];
    for end in [&mut client, &mut server] {
        let read = tokio::time::timeout(WAIT, end.read(&mut buf))
            .await
            .expect("the reset in time");
        assert_eq!(
            read.map_err(|e| e.kind()).unwrap_err(),
            std::io::ErrorKind::ConnectionReset
        );
    }
    assert!(!proxy.reset(id), "already gone");
    assert_eq!(proxy.connection_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fin_passes_as_a_fin_after_the_bytes() {
    let (_proxy, mut client, mut server) = connected(4).await;
    server.write_all(b"last words").await.unwrap();
    server.shutdown().await.unwrap();
    assert_eq!(read_exactly(&mut client, 10).await, b"last words");
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, client.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
    // Half-closed: the other way still flows.
    client.write_all(b"ack").await.unwrap();
    assert_eq!(read_exactly(&mut server, 3).await, b"ack");
}
