//! `hypersockets watch` against the testkit's mock exchange: with a venue
//! profile (one lane per topic), with a plain URL and a raw JSON request,
//! and against an endpoint that refuses the handshake for good.

mod support;

use hypersockets_testkit::{
    Emulation, ExchangeConfig, HandshakeResponse, MockExchange, Rate, StreamConfig,
};
use support::{field, rate, run};

/// Runs the binary on a blocking thread, while the exchange serves.
async fn watch(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .expect("the run's thread")
}

/// Whether some line of figures has `stream` flowing.
fn flows(stdout: &str, stream: &str) -> bool {
    stdout
        .lines()
        .filter(|line| line.starts_with("t=") && line.contains(" msgs="))
        .any(|line| field(line, stream).and_then(rate).is_some_and(|r| r > 0))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_counts_each_topic_in_its_lane() {
    let topics = ["trades:BTC-USDT", "trades:ETH-USDT"];
    let mut config = ExchangeConfig::new().emulate(Emulation::Okx);
    for topic in topics {
        config = config.stream(StreamConfig::trades(topic).rate(Rate::PerSecond(50)));
    }
    let exchange = MockExchange::start(config).await.unwrap();
    let mut args = vec![
        "watch".to_owned(),
        exchange.url(),
        "--profile".to_owned(),
        "okx".to_owned(),
        "--plain".to_owned(),
        "--duration".to_owned(),
        "3".to_owned(),
    ];
    for topic in topics {
        args.extend(["--subscribe".to_owned(), topic.to_owned()]);
    }
    let (ok, stdout, stderr) = watch(args).await;
    assert!(ok, "stderr:\n{stderr}\nstdout:\n{stdout}");
    for topic in topics {
        assert!(flows(&stdout, topic), "{topic} flows:\n{stdout}");
        assert!(
            stdout.contains(&format!("event: subscribed: {topic}")),
            "{topic} confirmed:\n{stdout}"
        );
    }
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raw_request_without_a_profile_counts_by_the_named_stream() {
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::PerSecond(100))),
    )
    .await
    .unwrap();
    let args = [
        "watch",
        &exchange.url(),
        "--subscribe",
        r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#,
        "--plain",
        "--duration",
        "3",
    ]
    .map(str::to_owned)
    .to_vec();
    let (ok, stdout, stderr) = watch(args).await;
    assert!(ok, "stderr:\n{stderr}\nstdout:\n{stdout}");
    assert!(
        flows(&stdout, "btcusdt@trade"),
        "counted by stream:\n{stdout}"
    );
    assert!(flows(&stdout, "(all)"), "the one lane's row:\n{stdout}");
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handshake_refused_for_good_is_an_error() {
    let exchange = MockExchange::start(ExchangeConfig::new()).await.unwrap();
    exchange
        .control()
        .set_handshake_response(HandshakeResponse::reject(404));
    // Far longer than the run takes: it ends on the refusal.
    let args = ["watch", &exchange.url(), "--plain", "--duration", "120"]
        .map(str::to_owned)
        .to_vec();
    let (ok, stdout, stderr) = watch(args).await;
    assert!(!ok, "a failure:\n{stdout}");
    assert!(
        stderr.starts_with("hypersockets: error: ") && stderr.contains("404"),
        "the refusal, clearly:\n{stderr}"
    );
    exchange.shutdown().await;
}
