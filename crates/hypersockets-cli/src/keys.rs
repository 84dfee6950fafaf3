//! The keys that quit the full-screen view (`q`, `Q`, Ctrl-C, a lone
//! Esc), read on the view's thread with a timeout.
//!
//! On Unix they are read straight from the terminal with poll(2), not with
//! crossterm's event reader: that reader takes a terminal that hung up
//! (its window closed, its tmux server killed) for "no event yet" and
//! loops at full speed for ever, which would leave a spinning process
//! behind. Here a hang-up ends the view.

use std::time::Duration;

/// What came from the terminal within the wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// A key that quits.
    Quit,
    /// Nothing, or keys that do nothing.
    Nothing,
    /// The terminal is gone (hung up, closed).
    Gone,
}

/// Whether `bytes`, read at once from a terminal in raw mode, quit: `q`,
/// `Q`, Ctrl-C (0x03, raw mode sends no signal), or Esc alone (an escape
/// sequence, an arrow key, comes whole in one read).
pub(crate) fn quits(bytes: &[u8]) -> bool {
    bytes == [0x1b] || bytes.iter().any(|byte| matches!(byte, b'q' | b'Q' | 0x03))
}

#[cfg(unix)]
pub(crate) use unix::Keys;

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::io::{self, IsTerminal};
    use std::os::fd::{AsFd, BorrowedFd};
    use std::time::Duration;

    use rustix::event::{PollFd, PollFlags, Timespec};
    use rustix::io::Errno;

    use super::{Input, quits};

    /// The terminal the keys come from: stdin, or `/dev/tty` when stdin is
    /// not a terminal (as crossterm's raw mode does).
    #[derive(Debug)]
    pub(crate) struct Keys {
        tty: Option<File>,
        stdin: io::Stdin,
    }

    impl Keys {
        /// The controlling terminal's keys.
        ///
        /// # Errors
        ///
        /// When stdin is not a terminal and `/dev/tty` cannot be opened.
        pub(crate) fn open() -> io::Result<Self> {
            let stdin = io::stdin();
            let tty = if stdin.is_terminal() {
                None
            } else {
                Some(File::open("/dev/tty")?)
            };
            Ok(Self { tty, stdin })
        }

        fn fd(&self) -> BorrowedFd<'_> {
            match &self.tty {
                Some(tty) => tty.as_fd(),
                None => self.stdin.as_fd(),
            }
        }

        /// Waits up to `timeout` for keys.
        ///
        /// # Errors
        ///
        /// When polling or reading the terminal fails otherwise than by
        /// its hanging up.
        pub(crate) fn wait(&mut self, timeout: Duration) -> io::Result<Input> {
            let fd = self.fd();
            let timeout = Timespec {
                tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: timeout.subsec_nanos().into(),
            };
            let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(0) | Err(Errno::INTR) => return Ok(Input::Nothing),
                Ok(_) => {}
                Err(error) => return Err(error.into()),
            }
            if fds[0].revents().contains(PollFlags::NVAL) {
                return Ok(Input::Gone);
            }
            // Readable, or hung up: a read tells which.
            let mut bytes = [0u8; 64];
            match rustix::io::read(fd, &mut bytes) {
                Ok(0) | Err(Errno::IO) => Ok(Input::Gone),
                Ok(read) if quits(&bytes[..read]) => Ok(Input::Quit),
                Ok(_) | Err(Errno::INTR | Errno::AGAIN) => Ok(Input::Nothing),
                Err(error) => Err(error.into()),
            }
        }
    }
}

#[cfg(not(unix))]
pub(crate) use other::Keys;

#[cfg(not(unix))]
mod other {
    use std::io;
    use std::time::Duration;

    use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

    use super::Input;

    /// The terminal's keys, through crossterm's event reader.
    #[derive(Debug)]
    pub(crate) struct Keys;

    impl Keys {
        /// The terminal's keys.
        pub(crate) fn open() -> io::Result<Self> {
            Ok(Self)
        }

        /// Waits up to `timeout` for keys.
        pub(crate) fn wait(&mut self, timeout: Duration) -> io::Result<Input> {
            if !event::poll(timeout)? {
                return Ok(Input::Nothing);
            }
            Ok(match event::read()? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    let ctrl_c = key.code == KeyCode::Char('c')
                        && key.modifiers.contains(KeyModifiers::CONTROL);
                    if ctrl_c || matches!(key.code, KeyCode::Char('q' | 'Q') | KeyCode::Esc) {
                        Input::Quit
                    } else {
                        Input::Nothing
                    }
                }
                _ => Input::Nothing,
            })
        }
    }
}

/// How long one wait for keys lasts at most: how soon the view's thread
/// sees a new screen to draw or the end of the view.
pub(crate) const WAIT: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_that_quit() {
        assert!(quits(b"q"));
        assert!(quits(b"Q"));
        assert!(quits(&[0x03]));
        assert!(quits(&[0x1b]));
        assert!(quits(b"xq"));
        assert!(!quits(b"x"));
        assert!(!quits(b"\x1b[A")); // an arrow key
        assert!(!quits(b""));
    }
}
