//! `hypersockets serve`: three feed node processes share two hot-hot
//! feeds of the mock exchange (Binance's emulation) through leases on a
//! real NATS server; one node is killed mid-stream; its feed replicas move
//! to the other two; and a consumer reads every message the venue sent
//! while some node was subscribed, once, in order, with no gap (the other
//! replica of each feed stayed subscribed). The ground truth is what the
//! mock exchange wrote to each connection.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use hypersockets::{Venue, WsMessage};
use hypersockets_nats::{Bus, BusConfig, ConsumerConfig, FeedConsumer, LeaseConfig};
use hypersockets_testkit::{
    ConnectionId, Control, Emulation, ExchangeConfig, MockExchange, NatsServer, Rate, StreamConfig,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

const FEEDS: [(&str, [&str; 2]); 2] = [
    ("majors", ["btcusdt@trade", "ethusdt@trade"]),
    ("alts", ["solusdt@trade", "xrpusdt@trade"]),
];

/// The longest any wait here takes before failing.
const WAIT: Duration = Duration::from_secs(60);

/// A node process, killed when dropped.
struct Node {
    name: String,
    child: Child,
}

/// A line a node printed.
struct Line {
    node: usize,
    text: String,
}

fn start_node(
    index: usize,
    config: &std::path::Path,
    nats: &str,
    lines: mpsc::UnboundedSender<Line>,
) -> Node {
    let name = format!("node{index}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hypersockets"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--nats", nats, "--node", &name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped");
    tokio::spawn(async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(text)) = reader.next_line().await {
            if lines.send(Line { node: index, text }).is_err() {
                return;
            }
        }
    });
    Node { name, child }
}

/// Who holds which feed replica, from the nodes' lines.
#[derive(Default)]
struct Holders {
    held: BTreeMap<String, usize>,
    log: Vec<String>,
}

impl Holders {
    fn take(&mut self, line: &Line) {
        self.log.push(format!("node{}: {}", line.node, line.text));
        let words: Vec<&str> = line.text.split(' ').collect();
        match words.get(1..3) {
            Some(["acquired", slot]) => {
                let before = self.held.insert((*slot).to_owned(), line.node);
                assert!(
                    before.is_none_or(|node| node == line.node),
                    "{slot} held twice:\n{}",
                    self.log.join("\n")
                );
            }
            Some(["lost", slot]) => {
                self.held.remove(*slot);
            }
            _ => {}
        }
    }

    fn of(&self, node: usize) -> Vec<String> {
        self.held
            .iter()
            .filter(|(_, n)| **n == node)
            .map(|(slot, _)| slot.clone())
            .collect()
    }
}

/// Reads lines until `done` holds of the holders.
async fn wait_lines(
    lines: &mut mpsc::UnboundedReceiver<Line>,
    holders: &mut Holders,
    what: &str,
    done: impl Fn(&Holders) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    while !done(holders) {
        match tokio::time::timeout_at(deadline, lines.recv()).await {
            Ok(Some(line)) => holders.take(&line),
            _ => panic!("timed out waiting for {what}:\n{}", holders.log.join("\n")),
        }
    }
}

/// The trade id (`t`) of a Binance trade message.
fn trade_id(message: &WsMessage) -> u64 {
    Venue::binance_spot()
        .sequence_of(message)
        .expect("a trade id")
        .number
}

/// Reads the consumer until every stream has come to the last id in
/// `want`.
async fn consume(
    consumer: &mut FeedConsumer,
    got: &mut BTreeMap<String, Vec<u64>>,
    want: &BTreeMap<String, BTreeSet<u64>>,
) {
    let deadline = Instant::now() + WAIT;
    let done = |got: &BTreeMap<String, Vec<u64>>| {
        want.iter()
            .all(|(stream, ids)| got.get(stream).and_then(|seen| seen.last()) >= ids.last())
    };
    while !done(got) {
        let delivery = match tokio::time::timeout_at(deadline, consumer.next()).await {
            Ok(Some(Ok(delivery))) => delivery,
            other => panic!(
                "consumer: {:?}; so far {:?}",
                other.map(|o| o.map(|r| r.map(|d| d.position))),
                got.iter()
                    .map(|(s, ids)| (s, ids.len()))
                    .collect::<Vec<_>>()
            ),
        };
        assert_eq!(delivery.gap, None, "{delivery:?}");
        got.entry(delivery.subject.stream().to_owned())
            .or_default()
            .push(trade_id(&delivery.message));
    }
}

/// The mock exchange, the feeds file and three node processes on one NATS
/// server, with the nodes' lines read as they come.
struct Cluster {
    exchange: MockExchange,
    control: Control,
    config: std::path::PathBuf,
    nodes: Vec<Node>,
    lines: mpsc::UnboundedReceiver<Line>,
    holders: Holders,
    /// Feed replicas in all.
    replicas: usize,
}

impl Cluster {
    /// Starts the exchange (every stream global, 100 trades a second)
    /// and three nodes serving `FEEDS` with `replicas` each; returns once
    /// every replica is held.
    async fn start(nats: &NatsServer, replicas: u8) -> Self {
        let mut exchange_config = ExchangeConfig::new().emulate(Emulation::BinanceSpot);
        for (_, streams) in FEEDS {
            for stream in streams {
                exchange_config = exchange_config.stream(
                    StreamConfig::trades(stream)
                        .rate(Rate::PerSecond(100))
                        .global(true),
                );
            }
        }
        let exchange = MockExchange::start(exchange_config).await.unwrap();
        let control = exchange.control();
        let mut feeds = String::from(
            "[bus]\nprefix = \"serve\"\nstream = \"SERVE\"\n[leases]\nbucket = \"serve\"\nttl_ms = 3000\n",
        );
        for (name, streams) in FEEDS {
            feeds.push_str(&format!(
                "[[feed]]\nname = \"{name}\"\nprofile = \"binance\"\nurl = \"{}\"\nreplicas = {replicas}\nsubscribe = [{}]\n",
                exchange.url(),
                streams.map(|s| format!("\"{s}\"")).join(", ")
            ));
        }
        let config = std::env::temp_dir().join(format!(
            "hypersockets-serve-test-{}-{replicas}.toml",
            std::process::id()
        ));
        std::fs::write(&config, feeds).unwrap();
        let (sender, lines) = mpsc::unbounded_channel();
        let nodes = (0..3)
            .map(|index| start_node(index, &config, nats.url(), sender.clone()))
            .collect();
        let mut cluster = Self {
            exchange,
            control,
            config,
            nodes,
            lines,
            holders: Holders::default(),
            replicas: FEEDS.len() * usize::from(replicas),
        };
        cluster.wait_all_held("every replica held").await;
        cluster
    }

    async fn wait_all_held(&mut self, what: &str) {
        let all = self.replicas;
        wait_lines(&mut self.lines, &mut self.holders, what, |h| {
            h.held.len() == all
        })
        .await;
    }

    /// Kills (SIGKILL: it releases nothing) a node holding a replica,
    /// mid-stream, and waits until its replicas run elsewhere: the node,
    /// the exchange connections it had, and how long the move took.
    async fn kill_a_holder(&mut self) -> (usize, BTreeSet<ConnectionId>, Duration) {
        let victim = (0..3)
            .find(|&node| !self.holders.of(node).is_empty())
            .unwrap();
        let orphaned = self.holders.of(victim);
        let open_before: BTreeSet<ConnectionId> = self.open_connections();
        self.nodes[victim].child.kill().await.unwrap();
        let killed_at = Instant::now();
        for slot in &orphaned {
            self.holders.held.remove(slot);
        }
        // The exchange sees the victim's connections end.
        let deadline = Instant::now() + WAIT;
        let gone = loop {
            let gone: BTreeSet<ConnectionId> = open_before
                .difference(&self.open_connections())
                .copied()
                .collect();
            if !gone.is_empty() {
                break gone;
            }
            assert!(
                Instant::now() < deadline,
                "the victim's connections never ended"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        self.wait_all_held("the killed node's replicas taken over")
            .await;
        let moved = killed_at.elapsed();
        for slot in &orphaned {
            assert_ne!(self.holders.held[slot], victim);
        }
        let bound = LeaseConfig::default()
            .ttl(Duration::from_secs(3))
            .takeover_bound();
        assert!(
            moved <= bound,
            "{orphaned:?} moved after {moved:?}, over {bound:?}"
        );
        (victim, gone, moved)
    }

    fn open_connections(&self) -> BTreeSet<ConnectionId> {
        self.control
            .connections()
            .into_iter()
            .filter(|id| {
                self.control
                    .status(*id)
                    .is_some_and(|status| !status.is_closed())
            })
            .collect()
    }

    /// Stops the other nodes cleanly (SIGTERM): the exchange's records are
    /// final then.
    async fn terminate_all_but(&mut self, victim: usize) {
        for (index, node) in self.nodes.iter_mut().enumerate() {
            if index != victim {
                let pid = node.child.id().unwrap();
                std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .unwrap();
                let status = tokio::time::timeout(WAIT, node.child.wait())
                    .await
                    .unwrap()
                    .unwrap();
                assert!(status.success(), "{} exited with {status}", node.name);
            }
        }
    }

    /// The trade ids the exchange wrote on `stream` to the connections
    /// `of` says yes to.
    fn sent(&self, stream: &str, of: impl Fn(ConnectionId) -> bool) -> BTreeSet<u64> {
        self.control
            .connections()
            .into_iter()
            .filter(|id| of(*id))
            .flat_map(|connection| self.control.sent_on(connection, stream).unwrap_or_default())
            .map(|record| record.seq())
            .collect()
    }

    async fn consumer(&self, nats: &NatsServer) -> FeedConsumer {
        let bus = Bus::connect(
            nats.url(),
            BusConfig::default().prefix("serve").stream("SERVE"),
        )
        .await
        .unwrap();
        bus.consumer(ConsumerConfig::default()).await.unwrap()
    }

    fn streams() -> impl Iterator<Item = &'static str> {
        FEEDS
            .iter()
            .flat_map(|(_, streams)| streams.iter().copied())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
        let _ = &self.exchange;
    }
}

/// Every stream at id `at` or past it.
fn every_stream_at(at: u64) -> BTreeMap<String, BTreeSet<u64>> {
    Cluster::streams()
        .map(|s| (s.to_owned(), BTreeSet::from([at])))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_feeds_move_and_the_consumer_misses_nothing() {
    let Some(nats) = NatsServer::start().await.expect("nats-server") else {
        return;
    };
    let mut cluster = Cluster::start(&nats, 2).await;
    let mut consumer = cluster.consumer(&nats).await;
    let mut got: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    // Messages flow on every stream before the kill.
    let first = cluster
        .sent("btcusdt@trade", |_| true)
        .first()
        .copied()
        .unwrap_or(1);
    consume(&mut consumer, &mut got, &every_stream_at(first + 50)).await;
    let (victim, _, moved) = cluster.kill_a_holder().await;
    cluster.terminate_all_but(victim).await;
    let want: BTreeMap<String, BTreeSet<u64>> = Cluster::streams()
        .map(|s| (s.to_owned(), cluster.sent(s, |_| true)))
        .collect();
    consume(&mut consumer, &mut got, &want).await;
    for (stream, ids) in &want {
        let seen = &got[stream];
        // Once and in order: every id after the one before it.
        assert!(
            seen.windows(2).all(|pair| pair[0] < pair[1]),
            "{stream}: out of order or repeated"
        );
        assert_eq!(
            seen.iter().copied().collect::<BTreeSet<u64>>(),
            *ids,
            "{stream}"
        );
        // No gap: the other replica stayed subscribed while the node died.
        let (first, last) = (ids.first().unwrap(), ids.last().unwrap());
        assert_eq!(
            ids.len() as u64,
            last - first + 1,
            "{stream}: the exchange's own records have a gap"
        );
    }
    // The figures, for the record (`--nocapture`).
    #[allow(clippy::print_stdout)]
    {
        println!(
            "replicas 2: moved after {moved:?}; streams: {:?}",
            want.iter()
                .map(|(s, ids)| (s, ids.len()))
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_replica_the_only_gap_is_while_no_node_was_subscribed() {
    let Some(nats) = NatsServer::start().await.expect("nats-server") else {
        return;
    };
    let mut cluster = Cluster::start(&nats, 1).await;
    let mut consumer = cluster.consumer(&nats).await;
    let mut got: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let first = cluster
        .sent("btcusdt@trade", |_| true)
        .first()
        .copied()
        .unwrap_or(1);
    consume(&mut consumer, &mut got, &every_stream_at(first + 50)).await;
    let (victim, dead, moved) = cluster.kill_a_holder().await;
    cluster.terminate_all_but(victim).await;
    let living: BTreeMap<String, BTreeSet<u64>> = Cluster::streams()
        .map(|s| (s.to_owned(), cluster.sent(s, |id| !dead.contains(&id))))
        .collect();
    consume(&mut consumer, &mut got, &living).await;
    let mut gaps = Vec::new();
    for stream in Cluster::streams() {
        let seen = &got[stream];
        let on_living = &living[stream];
        let on_dead = cluster.sent(stream, |id| dead.contains(&id));
        assert!(
            seen.windows(2).all(|pair| pair[0] < pair[1]),
            "{stream}: out of order or repeated"
        );
        let seen_set: BTreeSet<u64> = seen.iter().copied().collect();
        // Everything sent to a node that lived reached the consumer ...
        assert!(
            on_living.is_subset(&seen_set),
            "{stream}: lost {:?}",
            on_living.difference(&seen_set).collect::<Vec<_>>()
        );
        // ... nothing came from elsewhere ...
        assert!(
            seen_set
                .iter()
                .all(|id| on_living.contains(id) || on_dead.contains(id)),
            "{stream}"
        );
        // ... and of what the killed node was sent, only its last ones (in
        // flight when it died) may be missing.
        if let Some(lost) = on_dead.difference(&seen_set).next() {
            assert!(
                seen_set.intersection(&on_dead).all(|id| id < lost),
                "{stream}: lost {lost} before ids it published"
            );
        }
        // So a gap is where no living node was subscribed.
        let (low, high) = (seen[0], *seen.last().unwrap());
        let missing: Vec<u64> = (low..=high).filter(|id| !seen_set.contains(id)).collect();
        assert!(missing.iter().all(|id| !on_living.contains(id)), "{stream}");
        if !missing.is_empty() {
            gaps.push((stream, missing.len()));
        }
    }
    // The killed node's feed had a gap: none ran it until the takeover.
    assert!(
        !gaps.is_empty(),
        "no gap, though a feed had no node for {moved:?}"
    );
    #[allow(clippy::print_stdout)]
    {
        println!("replicas 1: moved after {moved:?}; gaps (stream, ids): {gaps:?}");
    }
}
