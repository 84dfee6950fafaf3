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
    ConnectionId, Control, Emulation, ExchangeConfig, MockExchange, NatsServer, Rate, Recording,
    StreamConfig,
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
    killed: bool,
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
    Node {
        name,
        child,
        killed: false,
    }
}

/// Who holds which feed replica, by each node's own lines. The lines of
/// different processes come in no causal order (one node's "acquired"
/// may come before the "lost" of the node that handed it over), so a
/// state counts only once no replica is held by two nodes.
#[derive(Default)]
struct Holders {
    by_node: BTreeMap<usize, BTreeSet<String>>,
    /// Nodes killed: lines of theirs still unread change nothing.
    killed: BTreeSet<usize>,
    log: Vec<String>,
}

impl Holders {
    fn take(&mut self, line: &Line) {
        self.log.push(format!("node{}: {}", line.node, line.text));
        if self.killed.contains(&line.node) {
            return;
        }
        let words: Vec<&str> = line.text.split(' ').collect();
        let held = self.by_node.entry(line.node).or_default();
        match words.get(1..3) {
            Some(["acquired", slot]) => {
                held.insert((*slot).to_owned());
            }
            Some(["lost", slot]) => {
                held.remove(*slot);
            }
            _ => {}
        }
    }

    fn of(&self, node: usize) -> Vec<String> {
        self.by_node
            .get(&node)
            .map(|held| held.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every replica held, none by two nodes: the holder of each.
    fn settled(&self, all: usize) -> Option<BTreeMap<&str, usize>> {
        let mut holder = BTreeMap::new();
        for (node, held) in &self.by_node {
            for slot in held {
                if holder.insert(slot.as_str(), *node).is_some() {
                    return None;
                }
            }
        }
        (holder.len() == all).then_some(holder)
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
        // Every message sent is kept: the ground truth.
        let mut exchange_config = ExchangeConfig::new()
            .emulate(Emulation::BinanceSpot)
            .recording(Recording::All);
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

    /// Waits until every replica is held and no node holds more than its
    /// share: the nodes hand nothing over from there on.
    async fn wait_all_held(&mut self, what: &str) {
        let all = self.replicas;
        let living: Vec<usize> = (0..self.nodes.len())
            .filter(|&node| !self.nodes[node].killed)
            .collect();
        let share = all.div_ceil(living.len());
        // Balanced: no node holds two more than another, so none hands a
        // replica over from here on.
        wait_lines(&mut self.lines, &mut self.holders, what, |h| {
            let loads: Vec<usize> = living.iter().map(|&node| h.of(node).len()).collect();
            let (most, least) = (loads.iter().max(), loads.iter().min());
            h.settled(all).is_some()
                && most.is_some_and(|most| *most <= share)
                && most
                    .zip(least)
                    .is_some_and(|(most, least)| most - least <= 1)
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
        self.wait_flowing().await;
        let open_before: BTreeSet<ConnectionId> = self.open_connections();
        self.nodes[victim].child.kill().await.unwrap();
        self.nodes[victim].killed = true;
        let killed_at = Instant::now();
        self.holders.by_node.remove(&victim);
        self.holders.killed.insert(victim);
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
        // And the new holders' streams flow.
        self.wait_flowing().await;
        for slot in &orphaned {
            assert_ne!(
                self.holders.settled(self.replicas).unwrap()[slot.as_str()],
                victim
            );
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

    /// Waits until every stream flows to as many open connections as its
    /// feed has replicas: every held replica subscribed, and sent to.
    async fn wait_flowing(&self) {
        let per_stream = self.replicas / FEEDS.len();
        let deadline = Instant::now() + WAIT;
        loop {
            let open = self.open_connections();
            let flowing = Cluster::streams().all(|stream| {
                open.iter()
                    .filter(|id| self.control.subscriptions(**id).iter().any(|s| s == stream))
                    .filter(|id| {
                        self.control
                            .sent_on(**id, stream)
                            .is_ok_and(|sent| !sent.is_empty())
                    })
                    .count()
                    == per_stream
            });
            if flowing {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the streams never flowed to every replica: {}\n{}",
                open.iter()
                    .map(|id| format!(
                        "{id:?} subscribed to {:?}, sent {:?}",
                        self.control.subscriptions(*id),
                        Cluster::streams()
                            .map(|stream| self.sent(stream, |other| other == *id).len())
                            .collect::<Vec<_>>()
                    ))
                    .collect::<Vec<_>>()
                    .join("\n"),
                self.holders.log.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Each connection's first and last id of `stream`, and its status.
    fn spans(&self, stream: &str) -> String {
        self.control
            .connections()
            .into_iter()
            .map(|id| {
                let sent = self.sent(stream, |other| other == id);
                format!(
                    "{id:?} {:?}..{:?} ({}) {:?}",
                    sent.first(),
                    sent.last(),
                    sent.len(),
                    self.control.status(id)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
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
        let holes: Vec<u64> = (*first..=*last).filter(|id| !ids.contains(id)).collect();
        assert!(
            holes.is_empty(),
            "{stream}: the exchange sent {holes:?} to no connection; per connection: {}\n{}",
            cluster.spans(stream),
            cluster.holders.log.join("\n")
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
    let mut ranges = Vec::new();
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
        let span = |ids: &BTreeSet<u64>| (ids.first().copied(), ids.last().copied(), ids.len());
        ranges.push(format!(
            "{stream}: seen {:?} dead {:?} living {:?}",
            span(&seen_set),
            span(&on_dead),
            span(on_living)
        ));
    }
    // The killed node's feed had a gap: none ran it until the takeover.
    assert!(
        !gaps.is_empty(),
        "no gap, though a feed had no node for {moved:?}; victim node{victim}, its connections {dead:?}\n{}\n{}",
        ranges.join("\n"),
        cluster.holders.log.join("\n")
    );
    #[allow(clippy::print_stdout)]
    {
        println!("replicas 1: moved after {moved:?}; gaps (stream, ids): {gaps:?}");
    }
}
