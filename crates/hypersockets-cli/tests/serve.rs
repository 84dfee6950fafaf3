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
    Control, Emulation, ExchangeConfig, MockExchange, NatsServer, Rate, StreamConfig,
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

/// Every trade id the exchange wrote on `stream`, over all connections.
fn sent(control: &Control, stream: &str) -> BTreeSet<u64> {
    control
        .connections()
        .into_iter()
        .flat_map(|connection| control.sent_on(connection, stream).unwrap_or_default())
        .map(|record| record.seq())
        .collect()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_feeds_move_and_the_consumer_misses_nothing() {
    let Some(nats) = NatsServer::start().await.expect("nats-server") else {
        return;
    };
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
            "[[feed]]\nname = \"{name}\"\nprofile = \"binance\"\nurl = \"{}\"\nreplicas = 2\nsubscribe = [{}]\n",
            exchange.url(),
            streams.map(|s| format!("\"{s}\"")).join(", ")
        ));
    }
    let config = std::env::temp_dir().join(format!(
        "hypersockets-serve-test-{}.toml",
        std::process::id()
    ));
    std::fs::write(&config, feeds).unwrap();

    let (sender, mut lines) = mpsc::unbounded_channel();
    let mut nodes: Vec<Node> = (0..3)
        .map(|index| start_node(index, &config, nats.url(), sender.clone()))
        .collect();
    let mut holders = Holders::default();
    wait_lines(&mut lines, &mut holders, "all four replicas held", |h| {
        h.held.len() == 4
    })
    .await;

    let bus = Bus::connect(
        nats.url(),
        BusConfig::default().prefix("serve").stream("SERVE"),
    )
    .await
    .unwrap();
    let mut consumer = bus.consumer(ConsumerConfig::default()).await.unwrap();
    let mut got: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    // Messages flow on every stream before the kill.
    let flowing: BTreeMap<String, BTreeSet<u64>> = FEEDS
        .iter()
        .flat_map(|(_, streams)| {
            streams
                .iter()
                .map(|s| ((*s).to_owned(), BTreeSet::from([50])))
        })
        .collect();
    consume(&mut consumer, &mut got, &flowing).await;

    // Kill a node that holds a replica, mid-stream (SIGKILL: it releases
    // nothing).
    let victim = (0..3).find(|&node| !holders.of(node).is_empty()).unwrap();
    let orphaned = holders.of(victim);
    nodes[victim].child.kill().await.unwrap();
    let killed_at = Instant::now();
    for slot in &orphaned {
        holders.held.remove(slot);
    }
    wait_lines(
        &mut lines,
        &mut holders,
        "the killed node's replicas taken over",
        |h| h.held.len() == 4,
    )
    .await;
    let moved = killed_at.elapsed();
    for slot in &orphaned {
        assert_ne!(holders.held[slot], victim);
    }
    let bound = LeaseConfig::default()
        .ttl(Duration::from_secs(3))
        .takeover_bound();
    assert!(
        moved <= bound,
        "{orphaned:?} moved after {moved:?}, over {bound:?}"
    );

    // Stop the survivors cleanly (SIGTERM): the exchange's records are
    // then final.
    for (index, node) in nodes.iter_mut().enumerate() {
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
    let want: BTreeMap<String, BTreeSet<u64>> = FEEDS
        .iter()
        .flat_map(|(_, streams)| streams.iter().map(|s| ((*s).to_owned(), sent(&control, s))))
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
    let _ = std::fs::remove_file(&config);
    // The figures, for the record (`--nocapture`).
    #[allow(clippy::print_stdout)]
    {
        println!(
            "moved after {moved:?}; streams: {:?}",
            want.iter()
                .map(|(s, ids)| (s, ids.len()))
                .collect::<Vec<_>>()
        );
    }
}
