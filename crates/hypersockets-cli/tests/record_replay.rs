//! `hypersockets record` against the testkit's mock exchange (OKX's
//! emulation), through a dropped connection, then `hypersockets replay`
//! of the file: the progress lines, the totals, and a replay that hands
//! the client every recorded frame and shows the streams flowing.

mod support;

use std::path::PathBuf;

use hypersockets::{RecordEvent, Recording};
use hypersockets_testkit::{Emulation, ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use support::{field, rate, run};

const TOPICS: [&str; 2] = ["trades:BTC-USDT", "trades:ETH-USDT"];

/// Runs the binary on a blocking thread, while the exchange serves.
async fn hypersockets(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .expect("the run's thread")
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The number after `word` in `line` (`"… 1,234 frames …"` → 1234).
fn number_before(line: &str, word: &str) -> Option<u64> {
    let words: Vec<&str> = line.split(' ').collect();
    let at = words.iter().position(|w| *w == word)?;
    words.get(at.checked_sub(1)?)?.replace(',', "").parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_feed_replays_every_frame() {
    let mut config = ExchangeConfig::new().emulate(Emulation::Okx);
    for topic in TOPICS {
        config = config.stream(StreamConfig::trades(topic).rate(Rate::PerSecond(100)));
    }
    let exchange = MockExchange::start(config).await.unwrap();
    let control = exchange.control();
    // The connection drops while recording: the file holds two.
    let dropper = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let subscribed = |control: &hypersockets_testkit::Control| {
            control
                .latest_connection()
                .is_some_and(|id| control.subscriptions(id).len() >= TOPICS.len())
        };
        while !subscribed(&control) {
            assert!(tokio::time::Instant::now() < deadline, "never subscribed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        control
            .inject(control.latest_connection().unwrap(), Fault::DropTcp)
            .unwrap();
    });
    let file = TempFile(std::env::temp_dir().join(format!(
        "hypersockets-cli-record-{}.hsr",
        std::process::id()
    )));
    let out = file.0.display().to_string();
    let mut args = vec![
        "record".to_owned(),
        exchange.url(),
        "--profile".to_owned(),
        "okx".to_owned(),
        "--out".to_owned(),
        out.clone(),
        "--duration".to_owned(),
        "4".to_owned(),
    ];
    for topic in TOPICS {
        args.extend(["--subscribe".to_owned(), topic.to_owned()]);
    }
    let (ok, stdout, stderr) = hypersockets(args).await;
    assert!(ok, "stderr:\n{stderr}\nstdout:\n{stdout}");
    dropper.await.unwrap();
    // A progress line a second, the bytes written growing.
    let progress: Vec<u64> = stdout
        .lines()
        .filter(|line| line.starts_with("recording t="))
        .filter_map(|line| field(line, "bytes")?.parse().ok())
        .collect();
    assert!(progress.len() >= 3, "progress lines:\n{stdout}");
    assert!(progress.windows(2).all(|pair| pair[0] <= pair[1]));
    assert!(progress.last() > progress.first(), "bytes grow:\n{stdout}");
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("hypersockets: recorded "))
        .unwrap_or_else(|| panic!("the totals:\n{stdout}"));
    let frames = number_before(summary, "frames").expect("a frame count");
    assert!(summary.contains("over 2 connection(s)"), "{summary}");
    assert!(summary.ends_with("0 lost"), "{summary}");

    // The file holds what the summary says.
    let recorded: Vec<_> = Recording::open(&file.0)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let in_file = recorded.iter().filter(|r| r.event.is_frame()).count() as u64;
    assert_eq!(in_file, frames);
    assert_eq!(
        recorded
            .iter()
            .filter(|r| r.event == RecordEvent::Opened)
            .count(),
        2
    );

    // At the recorded pace, in the view's plain lines: both streams flow.
    let args = ["replay", &out, "--profile", "okx", "--plain"]
        .map(str::to_owned)
        .to_vec();
    let (ok, stdout, stderr) = hypersockets(args).await;
    assert!(ok, "stderr:\n{stderr}\nstdout:\n{stdout}");
    for topic in TOPICS {
        let flowing = stdout
            .lines()
            .filter(|line| line.starts_with("t="))
            .any(|line| field(line, topic).and_then(rate).is_some_and(|r| r > 0));
        assert!(flowing, "{topic} flows in the replay:\n{stdout}");
    }
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("hypersockets: replayed "))
        .unwrap_or_else(|| panic!("the replay's totals:\n{stdout}"));
    assert_eq!(number_before(summary, "frames"), Some(frames), "{summary}");
    assert!(summary.contains("over 2 connection(s)"), "{summary}");

    // As fast as it goes: every frame again.
    let args = ["replay", &out, "--profile", "okx", "--fast", "--plain"]
        .map(str::to_owned)
        .to_vec();
    let (ok, stdout, stderr) = hypersockets(args).await;
    assert!(ok, "stderr:\n{stderr}\nstdout:\n{stdout}");
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("hypersockets: replayed "))
        .unwrap_or_else(|| panic!("the fast replay's totals:\n{stdout}"));
    assert_eq!(number_before(summary, "frames"), Some(frames), "{summary}");
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_is_no_recording_is_an_error() {
    let file = TempFile(std::env::temp_dir().join(format!(
        "hypersockets-cli-not-a-recording-{}.hsr",
        std::process::id()
    )));
    std::fs::write(&file.0, b"{\"not\": \"a recording\"}").unwrap();
    let args = ["replay", &file.0.display().to_string(), "--plain"]
        .map(str::to_owned)
        .to_vec();
    let (ok, stdout, stderr) = hypersockets(args).await;
    assert!(!ok, "a failure:\n{stdout}");
    assert!(
        stderr.starts_with("hypersockets: error: ")
            && stderr.contains("not a hypersockets recording"),
        "said clearly:\n{stderr}"
    );
}
