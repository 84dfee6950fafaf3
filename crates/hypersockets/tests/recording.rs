//! Recording and replay: a session against the mock exchange, with a gap
//! in one stream, a duplicate, a dropped connection and a refused
//! reconnect, is recorded and replayed through a client built the same
//! way; its handlers get exactly what the recording client's got, as fast
//! as possible and at the original pace. The file reads back record by
//! record, and a file cut short replays up to where it was cut.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hypersockets::{
    ClientEvent, HasUrl, Integrity, RecordEvent, Recorder, Recording, RecordingError, Replay,
    ReplayPace, WebSocketClientBuilder, WithRouter, peek_json_str,
};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, StreamConfig, StreamFault};
use support::{Collected, FeedRouter, wait_event, within};

const A: &str = "btcusdt@depth";
const B: &str = "ethusdt@depth";
const TRADES: &str = "btcusdt@trade";
const STREAMS: [&str; 3] = [A, B, TRADES];

/// The client under test, built the same way to record and to replay:
/// a lane per stream collecting into `data`, control into `control`,
/// integrity on the book streams.
fn builder(
    url: String,
    data: &Collected,
    control: &Collected,
) -> WebSocketClientBuilder<HasUrl, WithRouter<FeedRouter>> {
    support::client_builder(url, &STREAMS, data, control)
        .sequence(support::book_sequence)
        .integrity(Integrity::default())
}

/// What each handler got, in order.
fn by_stream(data: &Collected, control: &Collected) -> BTreeMap<String, Vec<String>> {
    let mut handled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for text in data.texts() {
        let stream = peek_json_str(&text, &["stream"]).unwrap_or("?").to_owned();
        handled.entry(stream).or_default().push(text);
    }
    handled.insert("control".to_owned(), control.texts());
    handled
}

/// A temporary file, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        let unique = format!(
            "hypersockets-{name}-{}-{}.hsr",
            std::process::id(),
            fastrand::u64(..)
        );
        Self(std::env::temp_dir().join(unique))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A recorded session: what its handlers got, and the exchange's URL.
struct Recorded {
    handled: BTreeMap<String, Vec<String>>,
    url: String,
    frames: u64,
    connections: u64,
}

/// Records a session with faults to `file`.
async fn record(file: &TempFile) -> Recorded {
    let mut config = ExchangeConfig::new();
    for stream in [A, B] {
        config = config.stream(
            StreamConfig::book_deltas(stream)
                .snapshot_on_subscribe(true)
                .rate(Rate::PerSecond(200)),
        );
    }
    config = config.stream(StreamConfig::trades(TRADES).rate(Rate::PerSecond(200)));
    let exchange = MockExchange::start(config).await.unwrap();
    let control = exchange.control();
    let recorder = Recorder::create(file.path()).unwrap();
    let (data, control_texts) = (Collected::default(), Collected::default());
    let client = builder(exchange.url(), &data, &control_texts)
        .record(&recorder)
        .build()
        .unwrap();
    let mut events = client.events();
    client.connect().await.unwrap();
    let count = |stream: &str| {
        let tag = format!(r#""stream":"{stream}""#);
        move |texts: &[String]| texts.iter().filter(|t| t.contains(&tag)).count()
    };
    for stream in STREAMS {
        let counted = count(stream);
        data.wait_until(stream, |texts| counted(texts) >= 20).await;
    }
    let first = control.latest_connection().unwrap();
    control.stream_fault(first, A, StreamFault::Gap(4)).unwrap();
    wait_event(&mut events, "A resynced", |event| {
        matches!(event, ClientEvent::StreamResynced { .. })
    })
    .await;
    control
        .stream_fault(first, B, StreamFault::Duplicate)
        .unwrap();
    let counted = count(B);
    let seen = counted(&data.texts());
    data.wait_until("B after its duplicate", |texts| counted(texts) >= seen + 20)
        .await;
    let duplicates = client.metrics().connection.stream_duplicates;
    assert_eq!(duplicates, 1, "the duplicate was dropped");
    control.refuse_connections(1);
    control.inject(first, Fault::DropTcp).unwrap();
    wait_event(&mut events, "the reconnection", |event| {
        matches!(event, ClientEvent::Connected { reconnect: true })
    })
    .await;
    let before = data.len();
    data.wait_until("more after the reconnection", |texts| {
        texts.len() >= before + 60
    })
    .await;
    client.close().await.unwrap();
    drop(client);
    let stats = within("the recording's end", recorder.finish())
        .await
        .unwrap();
    assert_eq!(stats.lost, 0);
    assert_eq!(stats.connections, 2, "{stats:?}");
    Recorded {
        handled: by_stream(&data, &control_texts),
        url: exchange.url(),
        frames: stats.frames,
        connections: stats.connections,
    }
}

/// Replays `file` through a client built as the recording one was.
async fn replay(
    file: &Path,
    url: &str,
    pace: ReplayPace,
) -> (BTreeMap<String, Vec<String>>, hypersockets::ReplaySummary) {
    let (data, control) = (Collected::default(), Collected::default());
    let run = Replay::open(file)
        .unwrap()
        .pace(pace)
        .build(builder(url.to_owned(), &data, &control))
        .unwrap();
    let summary = within("the replay", run.run()).await.unwrap();
    (by_stream(&data, &control), summary)
}

fn assert_same(recorded: &BTreeMap<String, Vec<String>>, replayed: &BTreeMap<String, Vec<String>>) {
    assert_eq!(
        recorded.keys().collect::<Vec<_>>(),
        replayed.keys().collect::<Vec<_>>()
    );
    for (key, texts) in recorded {
        let again = &replayed[key];
        assert_eq!(texts.len(), again.len(), "{key}: as many handled");
        for (i, (text, again)) in texts.iter().zip(again).enumerate() {
            assert_eq!(text, again, "{key}: message {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_faults_replays_to_the_same_handler_output() {
    let file = TempFile::new("faults");
    let recorded = record(&file).await;
    assert!(recorded.handled[A].len() >= 40);

    let (replayed, summary) = replay(file.path(), &recorded.url, ReplayPace::Fast).await;
    assert_same(&recorded.handled, &replayed);
    assert_eq!(summary.frames, recorded.frames);
    assert_eq!(summary.connections, recorded.connections);
    assert_eq!(summary.unrecorded, 0);
    assert!(summary.recording_error.is_none());

    // Twice more: a replay is the same every time.
    let (again, _) = replay(file.path(), &recorded.url, ReplayPace::Fast).await;
    assert_same(&recorded.handled, &again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_at_the_original_pace_handles_the_same() {
    let file = TempFile::new("paced");
    let recorded = record(&file).await;
    let (replayed, summary) = replay(file.path(), &recorded.url, ReplayPace::Original).await;
    assert_same(&recorded.handled, &replayed);
    assert_eq!(summary.frames, recorded.frames);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_reads_back_record_by_record() {
    let file = TempFile::new("read");
    let recorded = record(&file).await;
    let recording = Recording::open(file.path()).unwrap();
    let records: Vec<_> = recording.map(Result::unwrap).collect();
    let frames = records.iter().filter(|r| r.event.is_frame()).count() as u64;
    assert_eq!(frames, recorded.frames);
    let opened: Vec<u32> = records
        .iter()
        .filter(|r| r.event == RecordEvent::Opened)
        .map(|r| r.connection)
        .collect();
    assert_eq!(opened, [1, 2]);
    // The refused reconnect, between them.
    assert!(
        records
            .iter()
            .any(|r| matches!(&r.event, RecordEvent::ConnectFailed(error) if !error.is_empty())),
        "a failed connect is recorded"
    );
    // Times never go back, and every frame belongs to an opened connection.
    for pair in records.windows(2) {
        assert!(pair[0].at <= pair[1].at);
    }
    for record in records.iter().filter(|r| r.event.is_frame()) {
        assert!(opened.contains(&record.connection));
    }
    // The first connection failed (its TCP dropped); the second was
    // ended by the client's close, after the venue's Close answer.
    assert!(records.iter().any(
        |r| r.connection == 1 && matches!(r.event, RecordEvent::Failed(_) | RecordEvent::Ended)
    ),);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cut_short_replays_up_to_the_cut() {
    let file = TempFile::new("cut");
    let recorded = record(&file).await;
    let bytes = std::fs::read(file.path()).unwrap();
    let cut = TempFile::new("cut-short");
    std::fs::write(cut.path(), &bytes[..bytes.len() - 5]).unwrap();

    let (replayed, summary) = replay(cut.path(), &recorded.url, ReplayPace::Fast).await;
    assert!(
        matches!(
            summary.recording_error,
            Some(RecordingError::Truncated { .. })
        ),
        "{:?}",
        summary.recording_error
    );
    // Every handler got a prefix of what it got when recording.
    for (key, texts) in &replayed {
        let all = &recorded.handled[key];
        assert!(texts.len() <= all.len());
        assert_eq!(texts[..], all[..texts.len()], "{key}");
    }
}

#[test]
fn what_is_not_a_recording_is_refused() {
    let file = TempFile::new("bad");
    std::fs::write(file.path(), b"not a recording at all, no").unwrap();
    assert!(matches!(
        Recording::open(file.path()),
        Err(RecordingError::NotARecording)
    ));

    let mut header = b"HSREC\r\n\x1a".to_vec();
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&[0; 14]);
    std::fs::write(file.path(), &header).unwrap();
    assert!(matches!(
        Recording::open(file.path()),
        Err(RecordingError::UnsupportedVersion { version: 2 })
    ));

    // Version 1, then a record of an unknown kind.
    let mut bytes = b"HSREC\r\n\x1a".to_vec();
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&[0; 14]);
    bytes.push(99);
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(file.path(), &bytes).unwrap();
    let mut recording = Recording::open(file.path()).unwrap();
    assert!(matches!(
        recording.next(),
        Some(Err(RecordingError::Corrupt { offset: 24, .. }))
    ));
    assert!(recording.next().is_none(), "nothing after an error");

    // A length running past the end: cut short, not a huge allocation.
    let mut bytes = bytes[..24].to_vec();
    bytes.push(1);
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(b"{}");
    std::fs::write(file.path(), &bytes).unwrap();
    let mut recording = Recording::open(file.path()).unwrap();
    assert!(matches!(
        recording.next(),
        Some(Err(RecordingError::Truncated { offset: 24 }))
    ));
}
