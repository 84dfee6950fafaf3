//! The HyperSockets clients: one router or another, a checking handler per
//! kind (four lanes, or four inline handlers), the rest left at its defaults
//! except that the client must not reconnect once the server has closed and
//! that it inflates the gzip feed (`Decompression::Gzip`; `Off`, the
//! default, for the plain one) and runs on the transport its kind names.

use std::convert::Infallible;
use std::sync::mpsc;

use hypersockets::{
    ClientEvent, EventStreamError, MemoryBudget, MessageRouter, NeverReconnect, SokettoTransport,
    TokioWebsocketsTransport, TransportLimits, WebSocketClient,
};

use crate::clients::{Finished, Meter, Setup, TransportKind};
use crate::feed::Kind;
use crate::tally::{CheckingHandler, Merged, Observe, Reporter, Tally};

/// Where the handlers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handlers {
    /// One lane per kind, of the kind [`Setup::lanes`] says.
    Lanes,
    /// `inline_handler`: on the reader itself.
    Inline,
}

/// Runs one client with `router` until the server closes, and collects what
/// its handlers saw.
pub(crate) async fn run<R>(
    router: R,
    handlers: Handlers,
    setup: &Setup,
    meter: &mut Meter,
) -> Result<Finished, String>
where
    R: MessageRouter<RouteKey = Kind>,
    R::Message: Observe,
{
    let (tallies_tx, tallies) = mpsc::channel();
    let mut builder = WebSocketClient::builder()
        .url(setup.url.as_str())
        .router(router)
        .reconnect(NeverReconnect)
        .lane_defaults(setup.lanes.clone())
        .decompression(setup.decompression)
        .memory_budget(memory_budget())
        .limits(limits());
    builder = match setup.transport {
        TransportKind::Tungstenite => builder,
        TransportKind::TokioWebsockets => builder.transport(TokioWebsocketsTransport::new()),
        TransportKind::Soketto => builder.transport(SokettoTransport::new()),
    };
    for kind in Kind::ALL {
        let tally = Tally::new(setup.expected.of_kind(kind), setup.paced);
        let mut reporter = Reporter::new(tally, tallies_tx.clone());
        builder = match handlers {
            Handlers::Lanes => builder.handler(kind, CheckingHandler(reporter)),
            Handlers::Inline => builder.inline_handler(kind, move |message: R::Message| {
                reporter.tally.see(&message);
                Ok::<_, Infallible>(())
            }),
        };
    }
    drop(tallies_tx);
    let client = builder.build().map_err(|e| format!("build: {e}"))?;
    let mut events = client.events();
    meter.start();
    client
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // The server closes after the last message; with `NeverReconnect` the
    // client then drains its lanes and shuts down.
    loop {
        match events.recv().await {
            Ok(ClientEvent::ShutDown) | Err(EventStreamError::Closed) => break,
            Ok(_) | Err(_) => {}
        }
    }
    let metrics = client.metrics();
    client.close().await.map_err(|e| format!("close: {e}"))?;
    meter.stop();
    let router = &metrics.router;
    let (parse_errors, handler_failures) = (router.all_parse_errors(), router.handler_failures());
    if parse_errors + handler_failures + router.unrouted > 0 {
        return Err(format!(
            "{parse_errors} parse errors, {handler_failures} handler failures, {} unrouted messages",
            router.unrouted
        ));
    }
    let lanes = &metrics.router.lanes;
    let high_water = lanes.iter().map(|lane| lane.high_water).max().unwrap_or(0);
    let queued_peak = lanes.iter().map(|lane| lane.high_water).sum();
    // Every handler has been dropped by now (lanes joined, the dispatcher
    // gone), each sending its tally back.
    let mut collected = Vec::with_capacity(Kind::ALL.len());
    for _ in Kind::ALL {
        let tally = tallies
            .recv_timeout(std::time::Duration::from_secs(10))
            .map_err(|_| "a handler's tally never came back")?;
        collected.push(tally);
    }
    Ok(Finished {
        merged: Merged::of(collected),
        high_water,
        queued_peak,
    })
}

/// The transport's limits: the library's defaults, with the read buffer's
/// starting and largest sizes from `E2E_READ_BUFFER` and
/// `E2E_MAX_READ_BUFFER` (bytes) when set, to compare read buffer sizes.
fn limits() -> TransportLimits {
    let bytes = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let mut limits = TransportLimits::default();
    if let Some(start) = bytes("E2E_READ_BUFFER") {
        limits = limits.read_buffer_size(start);
    }
    if let Some(max) = bytes("E2E_MAX_READ_BUFFER") {
        limits = limits.max_read_buffer_size(max);
    }
    limits
}

/// The client's memory budget: the library's default, or what
/// `E2E_MEMORY_BUDGET` says (`unbounded`, or a number of bytes), to compare
/// runs with and without it.
fn memory_budget() -> MemoryBudget {
    match std::env::var("E2E_MEMORY_BUDGET").as_deref() {
        Ok("unbounded") => MemoryBudget::Unbounded,
        Ok(bytes) => bytes
            .parse()
            .map_or_else(|_| MemoryBudget::default(), MemoryBudget::Bytes),
        Err(_) => MemoryBudget::default(),
    }
}
