//! A tracing subscriber for tests that read what the library logs: every
//! event, at every level, with the fields of the spans it was inside.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One logged event: its level and fields, and the fields of every span it
/// was inside (innermost first).
#[derive(Clone, Debug)]
pub struct Logged {
    pub level: Level,
    pub target: String,
    pub fields: String,
    pub spans: Vec<String>,
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

/// Records every span and event, at every level.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Logged>>>);

impl Recorder {
    /// A recorder set as the global default subscriber, so that lane
    /// threads and runtime workers are seen too: one per test binary.
    pub fn install() -> Self {
        let recorder = Self::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::set_global_default(subscriber).unwrap();
        recorder
    }

    /// Everything recorded so far.
    pub fn logged(&self) -> Vec<Logged> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

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
                level: *event.metadata().level(),
                target: event.metadata().target().to_owned(),
                fields: fields.0,
                spans,
            });
    }
}
