//! The blast server: a separate process (`e2e serve`) that accepts one
//! WebSocket connection after another on 127.0.0.1 and writes the feed as
//! pre-encoded frames, so that it is never the bottleneck.
//!
//! It prints `LISTENING <port> <kind>=<mean payload bytes>… gzip=<mean
//! payload bytes>` once, then one line per connection:
//! `SENT conn=<id> n=<messages> checksum=<hex>` once the feed and a Close
//! frame are written, or `FAILED conn=<id> <error>`. It exits when its
//! standard input closes, so it never outlives the bench.
//!
//! The request path says what to send:
//! `/feed?n=<messages>&rate=<msg/s>[&feed=gzip]`. `rate=0` is a blast: the
//! frames are written in chunks as fast as the socket takes them.
//! `feed=gzip` sends the same messages as binary frames of one gzip member
//! each (see [`crate::gzip`]), blasts only, at most as many messages as
//! `serve --n` pre-encoded. A rate paces the feed: each message is stamped with
//! `CLOCK_MONOTONIC` at its write. Waiting between messages is a sleep, not
//! a spin (a spinning server would take one of the two cores from the
//! client), so messages that fell due during a sleep go out together, each
//! stamped at the moment of its write.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::clock;
use crate::dataset::DISTINCT;
use crate::feed::{Feed, checksum_term};
use crate::frames::{CLOSE_FRAME, Frames};
use crate::gzip::GzipFrames;

/// Frames written per `write` call in a blast (~54 KiB).
const BLAST_CHUNK: usize = 256;
/// At most this many due messages go out in one paced write.
const PACED_BATCH: usize = 1024;

/// What a connection asked for.
#[derive(Clone, Copy, Debug)]
struct Request {
    messages: u64,
    rate: u64,
    feed: Feed,
}

/// Both feeds, encoded.
#[derive(Debug)]
struct Encoded {
    plain: Frames,
    gzip: GzipFrames,
}

/// Runs the server until standard input closes; the gzip feed is encoded
/// for up to `gzip_messages` messages a connection.
pub(crate) fn serve(gzip_messages: u64) -> Result<(), String> {
    let plain = Frames::build();
    let gzip = GzipFrames::build(&plain, gzip_messages);
    let encoded = Arc::new(Encoded { plain, gzip });
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?
        .port();
    let mut sizes: Vec<String> = encoded
        .plain
        .mean_sizes()
        .iter()
        .map(|(kind, bytes)| format!("{}={bytes}", kind.tag()))
        .collect();
    sizes.push(format!("gzip={}", encoded.gzip.mean_size()));
    println!("LISTENING {port} {}", sizes.join(" "));
    let _ = std::io::stdout().flush();
    std::thread::spawn(|| {
        // The parent holds our stdin; when it goes, so do we.
        let _ = std::io::stdin().lock().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    for (id, stream) in listener.incoming().enumerate() {
        let Ok(stream) = stream else { continue };
        let encoded = Arc::clone(&encoded);
        std::thread::spawn(move || match serve_connection(stream, &encoded) {
            Ok((messages, checksum)) => {
                println!("SENT conn={id} n={messages} checksum={checksum:#x}");
            }
            Err(error) => println!("FAILED conn={id} {error}"),
        });
    }
    Ok(())
}

/// Handshake, feed, Close frame, then waits for the client to hang up.
fn serve_connection(mut stream: TcpStream, encoded: &Encoded) -> Result<(u64, u64), String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let request = handshake(&mut stream)?;
    let frames = &encoded.plain;
    let sent = match request.feed {
        Feed::Plain => {
            let mut buf = frames.bytes.clone();
            if request.rate == 0 {
                blast_plain(&mut stream, frames, &mut buf, request.messages)
            } else {
                paced(&mut stream, frames, &mut buf, request)
            }
        }
        Feed::Gzip => {
            if request.rate != 0 {
                return Err("the gzip feed is blast only".to_owned());
            }
            if request.messages > encoded.gzip.capacity() {
                return Err(format!(
                    "the gzip feed is encoded for {} messages (serve --n)",
                    encoded.gzip.capacity()
                ));
            }
            blast_gzip(&mut stream, frames, &encoded.gzip, request.messages)
        }
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
        feed: Feed::Plain,
    };
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("n", n)) => request.messages = n.parse().map_err(|_| "bad n")?,
            Some(("rate", rate)) => request.rate = rate.parse().map_err(|_| "bad rate")?,
            Some(("feed", feed)) => request.feed = Feed::from_query(feed).ok_or("bad feed")?,
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

/// Writes `count` messages as fast as the socket takes them, in chunks of
/// consecutive catalog messages: `write_chunk(cycle, indices, sent)` writes
/// one chunk and records each of its messages in `sent`.
fn blast(
    count: u64,
    mut write_chunk: impl FnMut(u64, Range<usize>, &mut Sent) -> std::io::Result<()>,
) -> std::io::Result<(u64, u64)> {
    let mut sent = Sent::default();
    let mut cycle = 0;
    while sent.messages < count {
        let mut index = 0;
        while index < DISTINCT && sent.messages < count {
            let left = usize::try_from(count - sent.messages).unwrap_or(usize::MAX);
            let end = (index + BLAST_CHUNK).min(DISTINCT).min(index + left);
            write_chunk(cycle, index..end, &mut sent)?;
            index = end;
        }
        cycle += 1;
    }
    Ok((sent.messages, sent.checksum))
}

/// A blast of the plain feed: sequence numbers patched into `buf` (a copy
/// of the frames) chunk by chunk.
fn blast_plain(
    stream: &mut TcpStream,
    frames: &Frames,
    buf: &mut [u8],
    count: u64,
) -> std::io::Result<(u64, u64)> {
    blast(count, |cycle, indices, sent| {
        for i in indices.clone() {
            let seq = frames.patch_seq(buf, i, cycle);
            sent.add(seq, frames.catalog.entries[i].value);
        }
        stream.write_all(&buf[frames.start(indices.start)..frames.layout[indices.end - 1].end])
    })
}

/// A blast of the gzip feed: each cycle's frames were encoded with their
/// sequence numbers, so they go out as they are.
fn blast_gzip(
    stream: &mut TcpStream,
    frames: &Frames,
    gzip: &GzipFrames,
    count: u64,
) -> std::io::Result<(u64, u64)> {
    let catalog = &frames.catalog;
    blast(count, |cycle, indices, sent| {
        let encoded = &gzip.cycles[cycle as usize];
        for i in indices.clone() {
            let entry = &catalog.entries[i];
            sent.add(entry.seq(catalog, cycle), entry.value);
        }
        stream
            .write_all(&encoded.bytes[encoded.start(indices.start)..encoded.ends[indices.end - 1]])
    })
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
