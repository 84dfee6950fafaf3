//! `hypersockets watch`: building the watched client, a venue profile
//! (URL, keepalive, request formats, pacing; a `TopicRouter` with one lane
//! per subscribed stream) or a plain URL (one lane, raw JSON subscribe
//! requests), with handlers that count each stream's messages for the
//! view; then connecting it while the view shows it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hypersockets::prelude::*;
use hypersockets::{
    HasUrl, Integrity, LaneConfig, Recorder, Replay, ReplayRun, TopicRouter,
    WebSocketClientBuilder, WithRouter, WsMessage,
};

use crate::counts::StreamCounts;
use crate::events::StreamNames;
use crate::monitor::{self, Ended, Outcome, Settings};

/// The profile names `--profile` takes, with their aliases.
pub(crate) const PROFILES: &str = "binance-spot (binance), binance-usdm, okx, bybit-spot (bybit), \
    bybit-linear, kraken, htx, hyperliquid, kucoin, coinbase";

/// What to watch, from the command line.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The endpoint; with a profile, `None` takes the venue's own.
    pub(crate) url: Option<String>,
    /// A venue profile's name.
    pub(crate) profile: Option<String>,
    /// Stream names (topics in the venue's syntax) or raw JSON requests.
    pub(crate) subscribe: Vec<String>,
    /// How the client reconnects.
    pub(crate) reconnect: ExponentialBackoff,
    /// What the client does about gaps in numbered streams (with a
    /// snapshot source for books, say).
    pub(crate) integrity: Integrity,
}

/// What the client built for a [`Target`] does.
#[derive(Debug)]
pub(crate) enum Build<'a> {
    /// Connects to the feed.
    Live,
    /// Connects to the feed, recording what it receives.
    Record(&'a Recorder),
    /// Plays a recording instead of connecting.
    Replay(Replay),
}

impl Build<'_> {
    /// Builds the client as asked; a replay's run comes with it.
    fn finish<R: MessageRouter>(
        self,
        builder: WebSocketClientBuilder<HasUrl, WithRouter<R>>,
    ) -> Result<(WebSocketClient, Option<ReplayRun>), BoxError> {
        Ok(match self {
            Self::Live => (builder.build()?, None),
            Self::Record(recorder) => (builder.record(recorder).build()?, None),
            Self::Replay(replay) => {
                let run = replay.build(builder)?;
                (run.client().clone(), Some(run))
            }
        })
    }
}

/// The client built for a [`Target`], and what the view needs besides it.
#[derive(Debug)]
pub(crate) struct Watched {
    /// The client, not yet connected.
    pub(crate) client: WebSocketClient,
    /// The replay to run, when the client plays a recording.
    pub(crate) replay: Option<ReplayRun>,
    /// The handlers' message counts, per stream.
    pub(crate) counts: StreamCounts,
    /// The subscribed topics' names, for events.
    pub(crate) names: StreamNames,
    /// What the view's title says is watched: the profile and the URL
    /// without its query (a venue's token may be there).
    pub(crate) title: String,
}

/// A `--subscribe` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Subscribe {
    /// A stream name, written into a request by the venue's profile.
    Topic(String),
    /// A subscribe request sent as it is.
    Raw(String),
}

impl Subscribe {
    /// A JSON object or array is a raw request (checked to be JSON);
    /// anything else a stream name.
    fn parse(argument: &str) -> Result<Self, BoxError> {
        let trimmed = argument.trim();
        if trimmed.is_empty() {
            return Err("--subscribe: an empty stream name".into());
        }
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            serde_json::from_str::<serde_json::Value>(trimmed)
                .map_err(|error| format!("--subscribe {trimmed}: not valid JSON: {error}"))?;
            return Ok(Self::Raw(trimmed.to_owned()));
        }
        Ok(Self::Topic(trimmed.to_owned()))
    }
}

/// The venue profile called `name` (case-insensitive), pointed at `url`
/// when given. KuCoin's needs the URL: KuCoin hands it out, with a token,
/// from a REST call.
pub(crate) fn profile(name: &str, url: Option<&str>) -> Result<Venue, BoxError> {
    let venue = match name.to_ascii_lowercase().as_str() {
        "binance" | "binance-spot" => Venue::binance_spot(),
        "binance-usdm" => Venue::binance_usdm(),
        "okx" => Venue::okx(),
        "bybit" | "bybit-spot" => Venue::bybit_spot(),
        "bybit-linear" => Venue::bybit_linear(),
        "kraken" => Venue::kraken(),
        "htx" => Venue::htx(),
        "hyperliquid" => Venue::hyperliquid(),
        "coinbase" => Venue::coinbase(),
        "kucoin" => Venue::kucoin(url.ok_or(
            "the kucoin profile needs the URL KuCoin's REST API hands out, with its token",
        )?),
        other => return Err(format!("unknown profile {other:?}; one of {PROFILES}").into()),
    };
    Ok(match url {
        Some(url) => venue.url(url),
        None => venue,
    })
}

/// Times every message: the view's percentiles come from the timed
/// messages, and a feed a person watches is not so fast that the clock
/// reads matter.
fn lanes() -> LaneConfig {
    LaneConfig::default().timing_sample_every(1)
}

/// `url` without its query and fragment, which may hold a token.
fn shown(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Builds the client for `target`, as `how` says.
pub(crate) fn build(target: &Target, how: Build<'_>) -> Result<Watched, BoxError> {
    let mut topics: Vec<String> = Vec::new();
    let mut raw: Vec<String> = Vec::new();
    for argument in &target.subscribe {
        match Subscribe::parse(argument)? {
            Subscribe::Topic(topic) if !topics.contains(&topic) => topics.push(topic),
            Subscribe::Raw(request) => raw.push(request),
            Subscribe::Topic(_) => {}
        }
    }
    let counts = StreamCounts::default();
    let names = StreamNames::of(topics.iter().map(String::as_str));
    let ((client, replay), title) = match &target.profile {
        Some(name) => {
            let venue = profile(name, target.url.as_deref())?;
            let title = format!("{} {}", venue.name(), shown(venue.endpoint()));
            let router = venue.router();
            let mut builder = WebSocketClient::builder()
                .venue(venue)
                .router(router)
                .lane_defaults(lanes())
                .reconnect(target.reconnect.clone())
                .integrity(target.integrity.clone());
            // One lane per stream: its own rate, queue and latency.
            for topic in &topics {
                let counter = counts.counter(topic);
                builder = builder
                    .handler(
                        topic.clone(),
                        handler_fn(move |_message: WsMessage| {
                            counter.fetch_add(1, Ordering::Relaxed);
                            Ok::<_, BoxError>(())
                        }),
                    )
                    .subscribe(Subscription::topic(topic.clone()));
            }
            for (number, request) in (1..).zip(raw) {
                builder = builder.subscribe(Subscription::new(format!("raw-{number}"), request));
            }
            // Everything else shares the fallback: the venue's answers and
            // pongs (not counted as a stream), and streams subscribed by
            // raw requests, counted by their topic.
            let shared = counts.clone();
            let builder = builder.fallback(handler_fn(move |message: WsMessage| {
                let topic = router.route_key(&message);
                if topic != TopicRouter::CONTROL {
                    shared.add(&topic);
                }
                Ok::<_, BoxError>(())
            }));
            (how.finish(builder)?, title)
        }
        None => {
            let url = target
                .url
                .clone()
                .ok_or("a URL to watch is needed (or --profile NAME for a venue's own endpoint)")?;
            if let Some(topic) = topics.first() {
                return Err(format!(
                    "--subscribe {topic}: a stream name needs --profile NAME, whose format \
                     writes the request; without a profile, give the JSON request itself"
                )
                .into());
            }
            let title = shown(&url).to_owned();
            let shared = counts.clone();
            let mut builder = WebSocketClient::builder()
                .url(url)
                .router(PassThrough)
                .lane_defaults(lanes())
                .reconnect(target.reconnect.clone())
                .integrity(target.integrity.clone())
                .handler(
                    (),
                    handler_fn(move |message: WsMessage| {
                        shared.add(guess_stream(&message));
                        Ok::<_, BoxError>(())
                    }),
                );
            for (number, request) in (1..).zip(raw) {
                builder = builder.subscribe(Subscription::new(format!("raw-{number}"), request));
            }
            (how.finish(builder)?, title)
        }
    };
    Ok(Watched {
        client,
        replay,
        counts,
        names,
        title,
    })
}

/// Watches `target` until the user quits or `duration` is up.
///
/// # Errors
///
/// When the client cannot be built or gives up (a handshake refused for
/// good), or the view fails.
pub(crate) async fn run(
    target: &Target,
    plain: bool,
    duration: Option<Duration>,
) -> Result<Outcome, BoxError> {
    let watched = build(target, Build::Live)?;
    let settings = Settings {
        title: watched.title.clone(),
        plain,
        duration,
    };
    show(watched, &settings).await
}

/// Connects the `watched` client in the background, shows it until the
/// view ends, and closes it.
///
/// # Errors
///
/// When the client gave up (with `connect`'s error when it never
/// connected, else its last event), or the view failed.
pub(crate) async fn show(watched: Watched, settings: &Settings) -> Result<Outcome, BoxError> {
    let client = watched.client;
    let events = client.events();
    // Connecting runs while the view shows it; it ends in an error only
    // when the client gives up (a handshake refused for good, …).
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });
    let outcome = monitor::show(&client, events, &watched.counts, &watched.names, settings).await;
    // Why a client that stopped by itself did: connect's error, when it
    // gave up before its first connection.
    let stopped = matches!(&outcome, Ok(outcome) if outcome.ended == Ended::ClientStopped);
    let gave_up = if stopped || connecting.is_finished() {
        tokio::time::timeout(Duration::from_secs(5), connecting)
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(Result::err)
    } else {
        connecting.abort();
        None
    };
    let closed = client.close().await;
    let outcome = outcome?;
    if let Some(error) = gave_up {
        return Err(error.into());
    }
    if outcome.ended == Ended::ClientStopped {
        // It gave up later (a reconnection refused for good): its events
        // say why.
        let last = outcome
            .events
            .iter()
            .rev()
            .find(|event| event.text != "shut down")
            .map_or_else(String::new, |event| {
                format!("; its last event: {}", event.text)
            });
        return Err(format!("the client stopped{last}").into());
    }
    closed?;
    Ok(outcome)
}

/// The stream of a message without a profile to read it: the first of
/// the usual places venues name it (Binance's `stream`, Bybit's `topic`,
/// HTX's `ch`, Kraken's and others' `channel`, OKX's `arg.channel`), or
/// `(unnamed)`.
fn guess_stream(message: &WsMessage) -> &str {
    const PLACES: [&[&str]; 5] = [
        &["stream"],
        &["topic"],
        &["ch"],
        &["channel"],
        &["arg", "channel"],
    ];
    message
        .as_text()
        .and_then(|text| {
            PLACES
                .iter()
                .find_map(|path| peek_json_str(text, path))
                .filter(|name| !name.is_empty())
        })
        .unwrap_or("(unnamed)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_arguments_are_topics_or_json() {
        assert_eq!(
            Subscribe::parse(" btcusdt@trade ").unwrap(),
            Subscribe::Topic("btcusdt@trade".to_owned())
        );
        let raw = r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#;
        assert_eq!(
            Subscribe::parse(raw).unwrap(),
            Subscribe::Raw(raw.to_owned())
        );
        assert!(Subscribe::parse(r#"{"op":"subscribe""#).is_err());
        assert!(Subscribe::parse("  ").is_err());
    }

    #[test]
    fn profiles_by_name_and_alias() {
        for name in [
            "binance",
            "binance-spot",
            "binance-usdm",
            "okx",
            "bybit",
            "bybit-spot",
            "bybit-linear",
            "kraken",
            "htx",
            "hyperliquid",
            "coinbase",
            "OKX",
        ] {
            assert!(profile(name, None).is_ok(), "{name}");
        }
        assert!(profile("kucoin", None).is_err());
        assert!(profile("kucoin", Some("wss://ws.example/?token=t")).is_ok());
        let error = profile("nasdaq", None).unwrap_err().to_string();
        assert!(error.contains("binance-spot"), "{error}");
        let local = profile("okx", Some("ws://127.0.0.1:1/ws/v5/public")).unwrap();
        assert_eq!(local.endpoint(), "ws://127.0.0.1:1/ws/v5/public");
    }

    #[test]
    fn titles_leave_tokens_out() {
        assert_eq!(shown("wss://ws.example/?token=secret"), "wss://ws.example/");
        assert_eq!(shown("wss://ws.example/stream"), "wss://ws.example/stream");
    }

    #[test]
    fn streams_are_guessed_from_the_usual_keys() {
        let named = |text: &'static str| guess_stream(&WsMessage::text(text)).to_owned();
        assert_eq!(
            named(r#"{"stream":"btcusdt@trade","data":{}}"#),
            "btcusdt@trade"
        );
        assert_eq!(
            named(r#"{"topic":"publicTrade.BTCUSDT"}"#),
            "publicTrade.BTCUSDT"
        );
        assert_eq!(named(r#"{"arg":{"channel":"trades"},"data":[]}"#), "trades");
        assert_eq!(named("pong"), "(unnamed)");
        assert_eq!(named(r#"{"result":null,"id":1}"#), "(unnamed)");
    }

    #[test]
    fn a_topic_without_a_profile_is_refused() {
        let target = Target {
            url: Some("ws://127.0.0.1:1/ws".to_owned()),
            profile: None,
            subscribe: vec!["btcusdt@trade".to_owned()],
            reconnect: ExponentialBackoff::default(),
            integrity: Integrity::default(),
        };
        let error = build(&target, Build::Live).unwrap_err().to_string();
        assert!(error.contains("--profile"), "{error}");
    }
}
