//! Child processes of the bench programs: a guard that kills and reaps
//! one, and the lines one prints, read on a thread of their own.

use std::io::{BufRead, BufReader, Read};
use std::process::Child;

/// Kills and reaps its child when dropped, on success, error or panic alike.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// The child.
    pub fn child(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Killing a child that has already exited is a harmless error.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Hands each line of `reader` (a pipe, which blocks) to `send` on a new
/// thread, until the pipe closes, a line is not UTF-8 or `send` returns
/// `false`.
pub fn forward_lines<R: Read + Send + 'static>(
    reader: R,
    mut send: impl FnMut(String) -> bool + Send + 'static,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if !send(line) {
                break;
            }
        }
    });
}
