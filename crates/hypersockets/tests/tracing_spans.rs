//! What the library logs, read by a subscriber of the test's own: every
//! event of a client comes from inside its span, which names the host and,
//! under a `ClientManager`, the key; and a secret in the URL never reaches
//! a span, an event, an error or a `Debug` print.

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use hypersockets::{
    BoxError, ClientManager, MemoryTransport, PassThrough, WebSocketClient, WsMessage, handler_fn,
};
use support::within;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const SECRET: &str = "LISTENKEYabc123";

/// One logged event: its level and fields, and the fields of every span it
/// was inside (innermost first).
#[derive(Clone, Debug)]
struct Logged {
    target: String,
    fields: String,
    spans: Vec<String>,
}

/// Everything a span or event said, as `name=value` text.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

/// A span's text, kept in the registry's extensions.
struct SpanText(String);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Logged>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut text = Text(format!("{}: ", attrs.metadata().name()));
        attrs.record(&mut text);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanText(text.0));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(SpanText(text)) = span.extensions_mut().get_mut::<SpanText>()
        {
            let mut more = Text(std::mem::take(text));
            values.record(&mut more);
            *text = more.0;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Text::default();
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .filter_map(|span| {
                        span.extensions()
                            .get::<SpanText>()
                            .map(|SpanText(text)| text.clone())
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Logged {
                target: event.metadata().target().to_owned(),
                fields: fields.0,
                spans,
            });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_in_the_client_span_and_no_secret_is_logged() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    // Global: lane threads and runtime workers must see it too. The only
    // test in this binary.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let (transport, server) = MemoryTransport::new();
    let (handled, mut messages) = tokio::sync::mpsc::unbounded_channel();
    let client = WebSocketClient::builder()
        .url(format!(
            "wss://exchange.test:9443/ws/{SECRET}?listenKey={SECRET}"
        ))
        .transport(transport)
        .router(PassThrough)
        .handler(
            (),
            handler_fn(move |message: WsMessage| {
                let failed = message.as_text() == Some("fail");
                handled.send(message)?;
                if failed {
                    return Err(BoxError::from("the handler refused it"));
                }
                Ok::<_, BoxError>(())
            }),
        )
        .build()
        .unwrap();
    let manager: ClientManager<&str> = ClientManager::new();
    manager.add("venue-a", client.clone()).unwrap();
    within("connect", client.connect()).await.unwrap();
    let peer = within("accept", server.accept()).await;
    peer.send(WsMessage::text("fail")).await.unwrap();
    assert_eq!(
        within("handled", messages.recv()).await,
        Some(WsMessage::text("fail"))
    );
    // A lost connection and a reconnect log at info and warn.
    peer.close(None).await.unwrap();
    let again = within("reconnect", server.accept()).await;
    again.send(WsMessage::text("after")).await.unwrap();
    assert_eq!(
        within("handled", messages.recv()).await,
        Some(WsMessage::text("after"))
    );
    let debug = format!("{client:?} {:?}", client.metrics());
    within("close", manager.shutdown()).await;

    let logged = recorder.0.lock().unwrap().clone();
    let ours: Vec<&Logged> = logged
        .iter()
        .filter(|logged| logged.target.starts_with("hypersockets"))
        .collect();
    assert!(ours.len() >= 4, "{logged:#?}");
    for logged in &ours {
        let client_span = logged
            .spans
            .iter()
            .find(|span| span.starts_with("client: "))
            .unwrap_or_else(|| panic!("outside the client span: {logged:?}"));
        assert!(
            client_span.contains("host=exchange.test:9443")
                && client_span.contains("key=\"\\\"venue-a\\\"\""),
            "{client_span}"
        );
    }
    // The handler's failure was logged from its lane, in the span.
    assert!(
        ours.iter()
            .any(|logged| logged.fields.contains("the handler refused it")),
        "{ours:#?}"
    );
    for text in logged
        .iter()
        .map(|logged| format!("{logged:?}"))
        .chain([debug])
    {
        assert!(!text.contains(SECRET), "a secret was logged: {text}");
    }
}
