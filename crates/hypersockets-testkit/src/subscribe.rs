//! Subscribing: a connection's answers to the client's requests, in the
//! exchange's protocol (`protocol/`).

use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::StreamConfig;
use crate::connection::{CONTINUE, Connection, Flow};
use crate::protocol::{Context, Item, Refusal, Request};
use crate::stream::Cursor;

impl Connection {
    /// Answers a request read from the client.
    pub(crate) async fn on_request(&mut self, request: Request) -> Flow {
        let protocol = self.shared.config.protocol;
        match request {
            Request::Subscribe { id, items } => self.subscribe(&id, items).await,
            Request::Unsubscribe { id, items } => {
                for item in &items {
                    if let Some(cursor) =
                        self.cursors.iter_mut().find(|c| **c.name() == *item.stream)
                    {
                        cursor.deactivate();
                    }
                }
                let active = self.sync_subscriptions();
                let cx = self.context(&active);
                for ack in protocol.acks(false, &id, &items, cx) {
                    self.write_text(ack).await?;
                }
                CONTINUE
            }
            Request::List { id } => {
                let streams = self.active_streams();
                self.write_text(protocol.list(&id, &streams)).await
            }
            Request::Login { id, login } => self.login(&id, &login).await,
            Request::Ping { reply } => {
                let id = self.id;
                self.shared
                    .update(|s| s.stats(id, |k| k.client_pings_answered += 1));
                self.write_text(reply).await
            }
            Request::Invalid { id, reason } => {
                let answer = protocol.invalid(&id, &reason, self.context(&[]));
                self.write_text(answer).await
            }
        }
    }

    /// What answers may need of this connection.
    pub(crate) fn context<'a>(&'a self, active: &'a [String]) -> Context<'a> {
        Context {
            conn: &self.tag,
            active,
        }
    }

    /// Whether `item` may be subscribed to, `adding` streams to the
    /// connection's active ones (before this one).
    fn check(&self, item: &Item, adding: usize) -> Result<Arc<StreamConfig>, Refusal> {
        let active = self
            .cursors
            .iter()
            .filter(|c| c.is_active() && **c.name() != *item.stream)
            .count();
        if self
            .shared
            .config
            .max_streams
            .is_some_and(|max| active + adding >= max)
        {
            return Err(Refusal::TooMany);
        }
        match self.shared.streams.get(&item.stream) {
            None => Err(Refusal::Unknown),
            Some(config) if config.is_private() && !self.authenticated => {
                Err(Refusal::LoginRequired)
            }
            Some(config) => Ok(Arc::clone(config)),
        }
    }

    fn add_stream(&mut self, config: Arc<StreamConfig>) {
        let now = Instant::now();
        match self
            .cursors
            .iter_mut()
            .find(|c| **c.name() == *config.name())
        {
            Some(cursor) => cursor.activate(now),
            None => {
                let shape = self.shared.config.shape();
                let start = self.shared.started;
                let mut cursor = Cursor::new(config, self.id, now, shape, start);
                // Stream faults given before the subscription, in order.
                self.waiting_faults.retain(|(stream, fault)| {
                    let mine = *stream == *cursor.name();
                    if mine {
                        cursor.push_fault(*fault);
                    }
                    !mine
                });
                self.cursors.push(cursor);
            }
        }
    }

    fn active_streams(&self) -> Vec<String> {
        self.cursors
            .iter()
            .filter(|c| c.is_active())
            .map(|c| c.name().to_string())
            .collect()
    }

    /// Records the active streams; returns them.
    fn sync_subscriptions(&self) -> Vec<String> {
        let streams = self.active_streams();
        let id = self.id;
        let recorded = streams.clone();
        self.shared.update(|s| s.set_subscriptions(id, recorded));
        streams
    }

    async fn subscribe(&mut self, id: &Value, items: Vec<Item>) -> Flow {
        let protocol = self.shared.config.protocol;
        if protocol.per_item() {
            // One answer per stream.
            for item in items {
                let answer = match self.check(&item, 0) {
                    Ok(config) => {
                        self.add_stream(config);
                        let active = self.sync_subscriptions();
                        protocol.acks(true, id, std::slice::from_ref(&item), self.context(&active))
                    }
                    Err(refusal) => {
                        vec![protocol.refusal(id, &item, refusal, self.context(&[]))]
                    }
                };
                for text in answer {
                    self.write_text(text).await?;
                }
            }
            return CONTINUE;
        }
        // All or nothing, one answer.
        let mut configs = Vec::with_capacity(items.len());
        for (adding, item) in items.iter().enumerate() {
            match self.check(item, adding) {
                Ok(config) => configs.push(config),
                Err(refusal) => {
                    let answer = protocol.refusal(id, item, refusal, self.context(&[]));
                    return self.write_text(answer).await;
                }
            }
        }
        for config in configs {
            self.add_stream(config);
        }
        let active = self.sync_subscriptions();
        for ack in protocol.acks(true, id, &items, self.context(&active)) {
            self.write_text(ack).await?;
        }
        CONTINUE
    }
}
