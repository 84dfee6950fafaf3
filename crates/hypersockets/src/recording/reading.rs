//! Reading a recording, record by record.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::SystemTime;

use crate::recording::RecordingError;
use crate::recording::format::{Record, RecordReader};

/// A recording made by a [`Recorder`](crate::Recorder), read record by
/// record: an iterator of [`Record`]s, for looking at exactly what a venue
/// sent. [`Replay`](crate::Replay) plays one through a client.
///
/// A file cut short yields its whole records, then
/// [`RecordingError::Truncated`]; a damaged one,
/// [`RecordingError::Corrupt`]. Nothing follows an error.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hypersockets::{Recorder, Recording};
///
/// let path = std::env::temp_dir().join(format!("doc-recording-{}.hsr", std::process::id()));
/// Recorder::create(&path)?.finish().await?;
/// let recording = Recording::open(&path)?;
/// assert!(recording.started() <= std::time::SystemTime::now());
/// for record in recording {
///     let record = record?;
///     println!("{:?} {} {:?}", record.at, record.connection, record.event);
/// }
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Recording {
    reader: RecordReader<BufReader<File>>,
    started: SystemTime,
}

impl Recording {
    /// Opens a recording and reads its header.
    ///
    /// # Errors
    ///
    /// [`RecordingError::Io`] if the file cannot be read,
    /// [`RecordingError::NotARecording`],
    /// [`RecordingError::UnsupportedVersion`] for a format this version
    /// of the crate does not read, [`RecordingError::Truncated`] for a
    /// header cut short.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RecordingError> {
        let file = File::open(path).map_err(RecordingError::io)?;
        let (reader, started) = RecordReader::new(BufReader::with_capacity(256 << 10, file))?;
        Ok(Self { reader, started })
    }

    /// When the recording started, by the wall clock: a record's time is
    /// this plus its [`at`](Record::at).
    pub fn started(&self) -> SystemTime {
        self.started
    }
}

impl Iterator for Recording {
    type Item = Result<Record, RecordingError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next_record().transpose()
    }
}
