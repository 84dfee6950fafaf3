//! The blast server: a separate process (`e2e serve`) that accepts one
//! WebSocket connection after another on 127.0.0.1 and writes the feed as
//! pre-encoded frames, so that it is never the bottleneck.
//!
//! It prints `LISTENING <port> <kind>=<mean payload bytes>…` once, then one line per connection:
//! `SENT conn=<id> n=<messages> checksum=<hex>` once the feed and a Close
//! frame are written, or `FAILED conn=<id> <error>`. It exits when its
//! standard input closes, so it never outlives the bench.
//!
//! The request path says what to send: `/feed?n=<messages>&rate=<msg/s>`.
//! `rate=0` is a blast: the frames are written in chunks as fast as the
//! socket takes them. A rate paces the feed: each message is stamped with
//! `CLOCK_MONOTONIC` at its write. Waiting between messages is a sleep, not
//! a spin (a spinning server would take one of the two cores from the
//! client), so messages that fell due during a sleep go out together, each
//! stamped at the moment of its write.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::clock;
use crate::dataset::DISTINCT;
use crate::feed::checksum_term;
use crate::frames::{CLOSE_FRAME, Frames};

/// Frames written per `write` call in a blast (~54 KiB).
const BLAST_CHUNK: usize = 256;
/// At most this many due messages go out in one paced write.
const PACED_BATCH: usize = 1024;

/// What a connection asked for.
#[derive(Clone, Copy, Debug)]
struct Request {
    messages: u64,
    rate: u64,
}

/// Runs the server until standard input closes.
pub(crate) fn serve() -> Result<(), String> {
    let frames = Arc::new(Frames::build());
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?
        .port();
    let sizes: Vec<String> = frames
        .mean_sizes()
        .iter()
        .map(|(kind, bytes)| format!("{}={bytes}", kind.tag()))
        .collect();
    println!("LISTENING {port} {}", sizes.join(" "));
    let _ = std::io::stdout().flush();
    std::thread::spawn(|| {
        // The parent holds our stdin; when it goes, so do we.
        let _ = std::io::stdin().lock().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    for (id, stream) in listener.incoming().enumerate() {
        let Ok(stream) = stream else { continue };
        let frames = Arc::clone(&frames);
        std::thread::spawn(move || match serve_connection(stream, &frames) {
            Ok((messages, checksum)) => {
                println!("SENT conn={id} n={messages} checksum={checksum:#x}");
            }
            Err(error) => println!("FAILED conn={id} {error}"),
        });
    }
    Ok(())
}

/// Handshake, feed, Close frame, then waits for the client to hang up.
fn serve_connection(mut stream: TcpStream, frames: &Frames) -> Result<(u64, u64), String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let request = handshake(&mut stream)?;
    let mut buf = frames.bytes.clone();
    let sent = if request.rate == 0 {
        blast(&mut stream, frames, &mut buf, request.messages)
    } else {
        paced(&mut stream, frames, &mut buf, request)
    }
    .map_err(|e| format!("write: {e}"))?;
    stream
        .write_all(&CLOSE_FRAME)
        .map_err(|e| format!("close: {e}"))?;
    // The client answers with its Close frame and hangs up.
    let _ = stream.read_to_end(&mut Vec::new());
    Ok(sent)
}

/// Reads the HTTP upgrade request and accepts it.
fn handshake(stream: &mut TcpStream) -> Result<Request, String> {
    let mut reader = std::io::BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut request_line = String::new();
    reader
        .read_line(&mut request_line)
        .map_err(|e| format!("request: {e}"))?;
    let mut key = None;
    loop {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .map_err(|e| format!("headers: {e}"))?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("sec-websocket-key")
        {
            key = Some(value.trim().to_owned());
        }
    }
    let key = key.ok_or("no Sec-WebSocket-Key")?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let query = path.split_once('?').map_or("", |(_, query)| query);
    let mut request = Request {
        messages: 0,
        rate: 0,
    };
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("n", n)) => request.messages = n.parse().map_err(|_| "bad n")?,
            Some(("rate", rate)) => request.rate = rate.parse().map_err(|_| "bad rate")?,
            _ => {}
        }
    }
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    stream
        .write_all(response.as_bytes())
        .map_err(|e| format!("response: {e}"))?;
    Ok(request)
}

/// The server's own record of what it wrote.
#[derive(Debug, Default)]
struct Sent {
    messages: u64,
    checksum: u64,
}

impl Sent {
    fn add(&mut self, seq: u64, value: u64) {
        self.messages += 1;
        self.checksum = self.checksum.wrapping_add(checksum_term(seq, value));
    }
}

/// Writes `count` messages as fast as the socket takes them.
fn blast(
    stream: &mut TcpStream,
    frames: &Frames,
    buf: &mut [u8],
    count: u64,
) -> std::io::Result<(u64, u64)> {
    let mut sent = Sent::default();
    let mut cycle = 0;
    while sent.messages < count {
        let mut index = 0;
        while index < DISTINCT && sent.messages < count {
            let left = usize::try_from(count - sent.messages).unwrap_or(usize::MAX);
            let end = (index + BLAST_CHUNK).min(DISTINCT).min(index + left);
            for i in index..end {
                let seq = frames.patch_seq(buf, i, cycle);
                sent.add(seq, frames.catalog.entries[i].value);
            }
            stream.write_all(&buf[frames.start(index)..frames.layout[end - 1].end])?;
            index = end;
        }
        cycle += 1;
    }
    Ok((sent.messages, sent.checksum))
}

/// Writes `request.messages` messages at `request.rate` per second, each
/// stamped with the clock at its write.
fn paced(
    stream: &mut TcpStream,
    frames: &Frames,
    buf: &mut [u8],
    request: Request,
) -> std::io::Result<(u64, u64)> {
    let mut sent = Sent::default();
    let interval_ns = 1e9 / request.rate as f64;
    let start = Instant::now();
    while sent.messages < request.messages {
        let elapsed = start.elapsed().as_nanos() as f64;
        let due = ((elapsed / interval_ns) as u64 + 1).min(request.messages);
        if due <= sent.messages {
            let next_due = Duration::from_nanos((sent.messages as f64 * interval_ns) as u64);
            std::thread::sleep(next_due.saturating_sub(start.elapsed()));
            continue;
        }
        // Messages g..due are due: one contiguous run of frames (at most a
        // batch, never across the end of the catalog).
        let first = (sent.messages % DISTINCT as u64) as usize;
        let cycle = sent.messages / DISTINCT as u64;
        let wanted = usize::try_from(due - sent.messages).unwrap_or(usize::MAX);
        let end = (first + wanted.min(PACED_BATCH)).min(DISTINCT);
        let stamp = clock::now_ns();
        for i in first..end {
            let seq = frames.patch_seq(buf, i, cycle);
            frames.patch_stamp(buf, i, stamp);
            sent.add(seq, frames.catalog.entries[i].value);
        }
        stream.write_all(&buf[frames.start(first)..frames.layout[end - 1].end])?;
    }
    Ok((sent.messages, sent.checksum))
}
