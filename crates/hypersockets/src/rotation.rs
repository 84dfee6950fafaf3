//! When a client replaces its connection before the venue ends it (make
//! before break).

use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{ShutdownNotice, WsMessage};

/// When a client opens a second connection to replace the live one, before
/// the venue closes it: on the venue's shutdown notice, or a margin before
/// the venue's maximum connection age.
///
/// The replacement logs in and restores every subscription while the old
/// connection keeps delivering. Each stream then switches to the new
/// connection once it has caught up, and the old one is closed. With a
/// [`SequenceReader`](crate::SequenceReader) (every venue profile has one),
/// a numbered message that comes on both connections reaches the handlers
/// once, in order; messages without a number come from both while the two
/// overlap.
///
/// Off by default (a plain client knows no venue's limits); a
/// [`Venue`](crate::Venue) profile turns it on with the venue's maximum age
/// and notice.
///
/// ```
/// use std::time::Duration;
/// use hypersockets::Rotation;
///
/// let rotation = Rotation::default()
///     .max_age(Some(Duration::from_secs(24 * 60 * 60)))
///     .margin(Duration::from_secs(600));
/// assert_eq!(rotation.rotates_after(), Some(Duration::from_secs(23 * 60 * 60 + 50 * 60)));
/// assert!(Rotation::default().rotates_after().is_none());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Rotation {
    pub(crate) max_age: Option<Duration>,
    pub(crate) margin: Duration,
    pub(crate) max_overlap: Duration,
    pub(crate) notice: Option<Arc<dyn ShutdownNotice>>,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            max_age: None,
            margin: Duration::from_secs(10 * 60),
            max_overlap: Duration::from_secs(30),
            notice: None,
        }
    }
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("max_age", &self.max_age)
            .field("margin", &self.margin)
            .field("max_overlap", &self.max_overlap)
            .field("notice", &self.notice.is_some())
            .finish()
    }
}

impl Rotation {
    /// The venue's maximum connection age: the connection is replaced
    /// [`margin`](Self::margin) before it. Default: none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::Rotation;
    ///
    /// let rotation = Rotation::default().max_age(Some(Duration::from_secs(3600)));
    /// assert_eq!(rotation.rotates_after(), Some(Duration::from_secs(3000)));
    /// ```
    pub fn max_age(mut self, age: Option<Duration>) -> Self {
        self.max_age = age;
        self
    }

    /// How long before the maximum age the replacement is opened; it must
    /// be shorter than the age. Default: 10 minutes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::Rotation;
    ///
    /// let rotation = Rotation::default()
    ///     .max_age(Some(Duration::from_secs(3600)))
    ///     .margin(Duration::from_secs(60));
    /// assert_eq!(rotation.rotates_after(), Some(Duration::from_secs(3540)));
    /// ```
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The longest both connections are read once the replacement is
    /// live: streams that have not caught up by then switch anyway (what
    /// the new connection held is delivered). Default: 30 seconds.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::Rotation;
    ///
    /// let rotation = Rotation::default().max_overlap(Duration::from_secs(5));
    /// assert_eq!(rotation.max_overlap_of(), Duration::from_secs(5));
    /// ```
    pub fn max_overlap(mut self, overlap: Duration) -> Self {
        self.max_overlap = overlap;
        self
    }

    /// Tells the venue's notice that it will close the connection; the
    /// client rotates when it sees one. Default: none.
    ///
    /// ```
    /// use hypersockets::{Rotation, WsMessage};
    ///
    /// let rotation = Rotation::default()
    ///     .notice(Some(|m: &WsMessage| m.as_text() == Some("bye soon")));
    /// assert!(rotation.is_notice(&WsMessage::text("bye soon")));
    /// ```
    pub fn notice<N: ShutdownNotice>(mut self, notice: Option<N>) -> Self {
        self.notice = notice.map(|n| Arc::new(n) as Arc<dyn ShutdownNotice>);
        self
    }

    /// How long after connecting the client rotates by age, if it does.
    pub fn rotates_after(&self) -> Option<Duration> {
        self.max_age.map(|age| age.saturating_sub(self.margin))
    }

    /// The longest overlap.
    ///
    /// ```
    /// assert_eq!(
    ///     hypersockets::Rotation::default().max_overlap_of(),
    ///     std::time::Duration::from_secs(30)
    /// );
    /// ```
    pub fn max_overlap_of(&self) -> Duration {
        self.max_overlap
    }

    /// Whether `message` is the venue's shutdown notice.
    ///
    /// ```
    /// use hypersockets::{Rotation, WsMessage};
    ///
    /// assert!(!Rotation::default().is_notice(&WsMessage::text("{}")));
    /// ```
    pub fn is_notice(&self, message: &WsMessage) -> bool {
        self.notice.as_ref().is_some_and(|n| n.is_notice(message))
    }
}
