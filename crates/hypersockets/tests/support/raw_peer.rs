//! A bare WebSocket server on 127.0.0.1 for the cases the mock exchange
//! cannot play: it answers the handshake, then writes and reads frames
//! only when the test says so (a peer that stops reading, frames after
//! the client's Close).

#![allow(dead_code, unreachable_pub)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A listener on a random free port.
#[derive(Debug)]
pub struct RawServer {
    listener: TcpListener,
}

impl RawServer {
    pub async fn start() -> Self {
        Self {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.listener.local_addr().unwrap())
    }

    /// Accepts one connection and answers its handshake.
    pub async fn accept(&self) -> RawPeer {
        let (tcp, _) = self.listener.accept().await.unwrap();
        let mut peer = RawPeer {
            tcp,
            buffer: Vec::new(),
        };
        peer.handshake().await;
        peer
    }
}

/// One accepted connection, driven by the test.
#[derive(Debug)]
pub struct RawPeer {
    pub tcp: TcpStream,
    /// Bytes read and not yet taken.
    buffer: Vec<u8>,
}

impl RawPeer {
    async fn handshake(&mut self) {
        let end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await.expect("handshake request");
        };
        let request = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end);
        let key = request
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            })
            .expect("a Sec-WebSocket-Key");
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        self.tcp.write_all(response.as_bytes()).await.unwrap();
    }

    /// Reads more bytes; `None` at the end of the stream.
    async fn fill(&mut self) -> Option<()> {
        let mut chunk = [0u8; 4096];
        let n = self.tcp.read(&mut chunk).await.ok()?;
        (n > 0).then(|| self.buffer.extend_from_slice(&chunk[..n]))
    }

    /// Writes one unmasked frame with FIN set.
    pub async fn write_frame(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            len @ 0..126 => frame.push(len as u8),
            len @ 126..65536 => {
                frame.push(126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(payload);
        self.tcp.write_all(&frame).await.unwrap();
    }

    pub async fn write_text(&mut self, text: &str) {
        self.write_frame(0x1, text.as_bytes()).await;
    }

    /// A Close frame with `code`.
    pub async fn write_close(&mut self, code: u16) {
        self.write_frame(0x8, &code.to_be_bytes()).await;
    }

    /// The next frame from the client (opcode, unmasked payload); `None`
    /// when the stream ends.
    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buffer) {
                self.buffer.drain(..used);
                return Some(frame);
            }
            self.fill().await?;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// One complete masked client frame at the start of `bytes`, and its size.
fn parse_frame(bytes: &[u8]) -> Option<((u8, Vec<u8>), usize)> {
    let opcode = bytes.first()? & 0x0f;
    let second = *bytes.get(1)?;
    let masked = second & 0x80 != 0;
    let (len, mut at) = match second & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?])),
            4,
        ),
        127 => (
            usize::try_from(u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)).ok()?,
            10,
        ),
        len => (usize::from(len), 2),
    };
    let mask = if masked {
        let mask: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(mask)
    } else {
        None
    };
    let mut payload = bytes.get(at..at + len)?.to_vec();
    if let Some(mask) = mask {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
    }
    Some(((opcode, payload), at + len))
}
