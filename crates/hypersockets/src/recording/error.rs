//! What can go wrong reading or writing a recording.

use std::sync::Arc;

/// A recording that could not be written or read.
///
/// ```
/// use hypersockets::{Recording, RecordingError};
///
/// let path = std::env::temp_dir().join(format!("not-a-recording-{}", std::process::id()));
/// std::fs::write(&path, b"GET / HTTP/1.1\r\n")?;
/// let error = Recording::open(&path).unwrap_err();
/// assert!(matches!(error, RecordingError::NotARecording));
/// assert_eq!(error.to_string(), "not a hypersockets recording");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// Reading or writing the file failed.
    #[error("recording i/o failed")]
    Io(#[source] Arc<std::io::Error>),
    /// The file does not start as a recording does.
    #[error("not a hypersockets recording")]
    NotARecording,
    /// A recording in a format version this crate does not read.
    #[error("unsupported recording version {version}")]
    UnsupportedVersion {
        /// The file's version.
        version: u16,
    },
    /// A record that cannot be read: the file is damaged.
    #[error("corrupt recording at byte {offset}: {what}")]
    Corrupt {
        /// Where the record starts.
        offset: u64,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The file ends inside a record (the recording process was stopped
    /// while writing): everything before `offset` was read.
    #[error("recording cut short at byte {offset}")]
    Truncated {
        /// Where the unfinished record starts.
        offset: u64,
    },
}

impl RecordingError {
    pub(crate) fn io(error: std::io::Error) -> Self {
        Self::Io(Arc::new(error))
    }
}
