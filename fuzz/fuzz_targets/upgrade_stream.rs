//! The handshake stream on any bytes, read in any piece sizes: it hands
//! over exactly the response up to its blank line and gives back every
//! byte after it, never more, never fewer.
#![no_main]

use hypersockets_transport::fuzzing::UpgradeStream;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fuzz_target!(|data: &[u8]| {
    let Some((&piece, wire)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let (mut server, client) = tokio::io::duplex(wire.len().max(1));
            server.write_all(wire).await.expect("room for the input");
            drop(server);
            let mut stream = UpgradeStream::new(client);
            let mut handed = Vec::new();
            let mut buf = vec![0u8; piece];
            loop {
                let n = stream.read(&mut buf).await.expect("an in-memory read");
                if n == 0 {
                    break;
                }
                handed.extend_from_slice(&buf[..n]);
                // Only the new bytes (and the two before them) can end it.
                let from = handed.len().saturating_sub(n + 2);
                if ends_headers(&handed, from) {
                    break;
                }
            }
            let blank_line = blank_line_end(wire);
            match (blank_line, stream.take_back()) {
                (Some(end), Some((_, after))) => {
                    assert_eq!(handed, wire[..end], "exactly the response");
                    // What was read past the blank line is given back; the rest
                    // is still in the stream.
                    assert!(
                        wire[end..].starts_with(&after),
                        "the bytes after it, in order"
                    );
                }
                (Some(_), None) => {
                    panic!("nothing was read past the response: it must be taken back")
                }
                (None, taken) => {
                    assert!(taken.is_none(), "no response end, nothing to take back");
                    assert_eq!(handed, wire, "everything handed over");
                }
            }
        })
    });
});

thread_local! {
    /// One runtime for every input: building one per input costs more than
    /// the code under test.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
}

/// Whether `handed` ends with its first blank line, looking from `from` on
/// (everything before it was checked on an earlier read).
fn ends_headers(handed: &[u8], from: usize) -> bool {
    blank_line_end(&handed[from..]).map(|end| from + end) == Some(handed.len())
}

/// The index just past the first blank line (`\n\n` or `\n\r\n`).
fn blank_line_end(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find_map(|i| {
        if bytes[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else if bytes[i..].starts_with(b"\n\r\n") {
            Some(i + 3)
        } else {
            None
        }
    })
}
