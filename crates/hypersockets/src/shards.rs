//! A venue's subscriptions spread over as many connections as its stream
//! cap needs.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use hypersockets_core::{HyperSocketError, Result};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::pacing::Window;
use crate::{ClientManager, Subscription, Venue, WebSocketClient};

/// Builds the client of one connection from the venue's profile.
type BuildClient = Box<dyn Fn(Venue) -> Result<WebSocketClient> + Send + Sync>;

/// Subscriptions of one venue spread over as many connections as the
/// venue's per-connection stream cap ([`VenueLimits`](crate::VenueLimits))
/// needs: each subscription goes to the first connection with room (the
/// oldest first), and a new connection is opened when none has any, no
/// faster than the venue's connection rate allows, with a little jitter.
/// A connection whose last subscription is removed is closed; the room
/// others free is filled by later subscriptions before a new connection is
/// opened. No subscription is moved once placed (moving one would open a
/// gap in its stream).
///
/// Each connection is a client of its own, built by your function from
/// the profile (add the router and handlers there); they are managed by a
/// [`ClientManager`] under their number (1, 2, …), whose tagged events
/// and summed metrics cover them all. A topic's messages stay in order:
/// a topic lives on one connection.
///
/// ```
/// # use hypersockets::prelude::*;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// use hypersockets::{Subscription, Venue, VenueShards};
///
/// let shards = VenueShards::new(Venue::binance_usdm(), |venue: Venue| {
///     let router = venue.router();
///     WebSocketClient::builder().venue(venue).router(router).build()
/// });
/// // 200 streams per connection: 500 topics need three.
/// let topics = (0..500).map(|i| Subscription::topic(format!("sym{i}usdt@aggTrade")));
/// # if false {
/// shards.subscribe_all(topics).await?;
/// assert_eq!(shards.connections(), 3);
/// # }
/// # shards.close().await;
/// # Ok(())
/// # }
/// ```
pub struct VenueShards {
    venue: Venue,
    build: BuildClient,
    manager: ClientManager<usize>,
    placed: Mutex<Placement>,
}

impl fmt::Debug for VenueShards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VenueShards")
            .field("venue", &self.venue)
            .field("connections", &self.manager.len())
            .finish_non_exhaustive()
    }
}

/// Which connection holds which subscription.
#[derive(Default)]
struct Placement {
    /// Connection number → how many subscriptions it holds.
    load: HashMap<usize, usize>,
    /// Subscription id → its connection.
    by_id: HashMap<String, usize>,
    /// The last connection's number.
    last: usize,
    /// When connections were opened, for the venue's connection rate.
    opened: Option<Window>,
}

impl Placement {
    /// The oldest connection with room under `cap`.
    fn with_room(&self, cap: usize) -> Option<usize> {
        let mut open: Vec<(&usize, &usize)> = self.load.iter().collect();
        open.sort();
        open.into_iter()
            .find(|(_, load)| **load < cap)
            .map(|(number, _)| *number)
    }
}

impl VenueShards {
    /// Spreads `venue`'s subscriptions over connections built by `build`
    /// (which receives the profile, its URL included, and returns the
    /// built, unconnected client). No connection is opened until the first
    /// subscription.
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::{Venue, VenueShards};
    ///
    /// let shards = VenueShards::new(Venue::kucoin("wss://ws-api-spot.kucoin.com/?token=T"), |venue: Venue| {
    ///     WebSocketClient::builder().venue(venue).router(PassThrough).build()
    /// });
    /// assert_eq!(shards.connections(), 0);
    /// ```
    pub fn new(
        venue: Venue,
        build: impl Fn(Venue) -> Result<WebSocketClient> + Send + Sync + 'static,
    ) -> Self {
        let opened = venue.limits().connections_limit().map(Window::new);
        Self {
            venue,
            build: Box::new(build),
            manager: ClientManager::new(),
            placed: Mutex::new(Placement {
                opened,
                ..Placement::default()
            }),
        }
    }

    /// The most subscriptions one connection takes: the venue's stream
    /// cap, or no limit.
    fn cap(&self) -> usize {
        self.venue
            .limits()
            .streams_per_connection_limit()
            .unwrap_or(usize::MAX)
            .max(1)
    }

    /// Subscribes: on the connection that already has this id, else the
    /// first with room, else a new one (connected before this returns).
    /// Returns the connection's number.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::NoRoom`] when every connection the venue allows
    /// is full; the client's errors (its build or connect failing, or it
    /// being shut down).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: cancelled while a new connection opens, that
    /// connection may be left without the subscription.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::{Subscription, Venue, VenueShards};
    ///
    /// let shards = VenueShards::new(Venue::okx(), |venue: Venue| {
    ///     WebSocketClient::builder().venue(venue).router(PassThrough).build()
    /// });
    /// # if false {
    /// let connection = shards.subscribe(Subscription::topic("trades:BTC-USDT")).await?;
    /// assert_eq!(connection, 1);
    /// # }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe(&self, subscription: Subscription) -> Result<usize> {
        self.subscribe_all([subscription])
            .await
            .map(|numbers| numbers[0])
    }

    /// Subscribes to many at once: connections with room take what fits,
    /// then new connections are opened with the rest already registered,
    /// so their restore batches them. Returns each one's connection number.
    ///
    /// # Errors
    ///
    /// As [`subscribe`](Self::subscribe); those placed before the error
    /// stay placed.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`subscribe`](Self::subscribe).
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::{Subscription, Venue, VenueShards};
    ///
    /// let shards = VenueShards::new(Venue::binance_spot(), |venue: Venue| {
    ///     WebSocketClient::builder().venue(venue).router(PassThrough).build()
    /// });
    /// # if false {
    /// let topics = ["btcusdt@trade", "ethusdt@trade"].map(Subscription::topic);
    /// assert_eq!(shards.subscribe_all(topics).await?, [1, 1]);
    /// # }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe_all(
        &self,
        subscriptions: impl IntoIterator<Item = Subscription>,
    ) -> Result<Vec<usize>> {
        let cap = self.cap();
        let mut placed = self.placed.lock().await;
        let mut numbers = Vec::new();
        // Subscriptions waiting for a new connection, with their place in
        // the answer.
        let mut pending: Vec<(usize, Subscription)> = Vec::new();
        for subscription in subscriptions {
            let at = numbers.len();
            numbers.push(0);
            let target = placed
                .by_id
                .get(subscription.id())
                .copied()
                .or_else(|| placed.with_room(cap));
            let Some(number) = target else {
                pending.push((at, subscription));
                continue;
            };
            let client = self.client(number)?;
            if placed.by_id.insert(subscription.id().to_owned(), number) != Some(number) {
                *placed.load.entry(number).or_default() += 1;
            }
            client.subscribe(subscription).await?;
            numbers[at] = number;
        }
        for chunk in pending.chunks(cap.min(pending.len().max(1))) {
            let number = self.open(&mut placed, chunk).await?;
            for (at, _) in chunk {
                numbers[*at] = number;
            }
        }
        Ok(numbers)
    }

    /// Opens a new connection holding `subscriptions`.
    async fn open(
        &self,
        placed: &mut Placement,
        subscriptions: &[(usize, Subscription)],
    ) -> Result<usize> {
        if let Some(max) = self.venue.limits().connections_per_address_limit()
            && placed.load.len() >= max
        {
            return Err(HyperSocketError::NoRoom {
                connections: placed.load.len(),
                streams_per_connection: self.cap(),
            });
        }
        if let Some(window) = &placed.opened {
            let ready = window.ready_at(0, Instant::now());
            // A little jitter: clients started together do not open in step.
            let jitter = Duration::from_millis(fastrand::u64(0..=100));
            tokio::time::sleep_until(ready + jitter).await;
        }
        if let Some(window) = &mut placed.opened {
            window.take(Instant::now());
        }
        let client = (self.build)(self.venue.clone())?;
        for (_, subscription) in subscriptions {
            client.subscribe(subscription.clone()).await?;
        }
        placed.last += 1;
        let number = placed.last;
        self.manager.add(number, client.clone())?;
        placed.load.insert(number, subscriptions.len());
        for (_, subscription) in subscriptions {
            placed.by_id.insert(subscription.id().to_owned(), number);
        }
        tracing::info!(
            venue = self.venue.name(),
            connection = number,
            subscriptions = subscriptions.len(),
            "connection opened for more subscriptions"
        );
        client.connect().await?;
        Ok(number)
    }

    /// Unsubscribes `id` on its connection; a connection left with none is
    /// closed. Returns whether it was subscribed.
    ///
    /// # Errors
    ///
    /// The client's, as [`WebSocketClient::unsubscribe`].
    ///
    /// # Cancel safety
    ///
    /// The subscription is forgotten before the first await.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// use hypersockets::{Venue, VenueShards};
    ///
    /// let shards = VenueShards::new(Venue::okx(), |venue: Venue| {
    ///     WebSocketClient::builder().venue(venue).router(PassThrough).build()
    /// });
    /// assert!(!shards.unsubscribe("trades:BTC-USDT").await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn unsubscribe(&self, id: &str) -> Result<bool> {
        let mut placed = self.placed.lock().await;
        let Some(number) = placed.by_id.remove(id) else {
            return Ok(false);
        };
        let left = placed.load.get_mut(&number).map(|load| {
            *load = load.saturating_sub(1);
            *load
        });
        if left == Some(0) {
            placed.load.remove(&number);
            drop(placed);
            self.manager.remove(&number).await;
            return Ok(true);
        }
        drop(placed);
        self.client(number)?.unsubscribe(id).await
    }

    /// How many connections are open.
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::{Venue, VenueShards};
    ///
    /// let shards = VenueShards::new(Venue::okx(), |venue: Venue| {
    ///     WebSocketClient::builder().venue(venue).router(PassThrough).build()
    /// });
    /// assert_eq!(shards.connections(), 0);
    /// ```
    pub fn connections(&self) -> usize {
        self.manager.len()
    }

    /// The connection number holding subscription `id`, if any.
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use hypersockets::{Venue, VenueShards};
    ///
    /// let shards = VenueShards::new(Venue::okx(), |venue: Venue| {
    ///     WebSocketClient::builder().venue(venue).router(PassThrough).build()
    /// });
    /// assert_eq!(shards.connection_of("trades:BTC-USDT").await, None);
    /// # }
    /// ```
    pub async fn connection_of(&self, id: &str) -> Option<usize> {
        self.placed.lock().await.by_id.get(id).copied()
    }

    /// The connections' clients, by number, in a [`ClientManager`]: their
    /// tagged events, states and summed metrics.
    ///
    /// ```
    /// use hypersockets::prelude::*;
    /// use hypersockets::{Venue, VenueShards};
    ///
    /// let shards = VenueShards::new(Venue::okx(), |venue: Venue| {
    ///     WebSocketClient::builder().venue(venue).router(PassThrough).build()
    /// });
    /// assert!(shards.manager().is_empty());
    /// ```
    pub fn manager(&self) -> &ClientManager<usize> {
        &self.manager
    }

    /// Closes every connection.
    ///
    /// # Cancel safety
    ///
    /// As [`ClientManager::shutdown`].
    ///
    /// ```
    /// # use hypersockets::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use hypersockets::{Venue, VenueShards};
    ///
    /// let shards = VenueShards::new(Venue::okx(), |venue: Venue| {
    ///     WebSocketClient::builder().venue(venue).router(PassThrough).build()
    /// });
    /// shards.close().await;
    /// # }
    /// ```
    pub async fn close(&self) {
        self.manager.shutdown().await;
    }

    fn client(&self, number: usize) -> Result<WebSocketClient> {
        self.manager.get(&number).ok_or(HyperSocketError::ShutDown)
    }
}
