//! A hand-rolled WebSocket server on 127.0.0.1:0 for hostile-input tests:
//! it does the handshake by hand (or answers whatever a test says), then
//! writes raw bytes, whatever they break, and reads back the frames the
//! client sends, unmasked.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use super::WAIT;

/// A server that accepts connections one at a time.
#[derive(Debug)]
pub struct RawServer {
    listener: TcpListener,
}

/// The opcodes the tests write.
pub mod op {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

impl RawServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self { listener }
    }

    /// `ws://127.0.0.1:PORT/ws`.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.listener.local_addr().unwrap())
    }

    /// The next TCP connection and its handshake request (up to the blank
    /// line), within `WAIT`.
    pub async fn accept_request(&self) -> (TcpStream, String) {
        let (mut tcp, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("timed out waiting for a connection")
            .unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            let read = tokio::time::timeout(WAIT, tcp.read(&mut byte))
                .await
                .expect("timed out reading the request")
                .unwrap();
            assert_eq!(read, 1, "the client closed during its request");
            request.push(byte[0]);
        }
        (tcp, String::from_utf8(request).unwrap())
    }

    /// The next connection, upgraded with a correct 101 answer.
    pub async fn accept(&self) -> RawPeer {
        let (mut tcp, request) = self.accept_request().await;
        let key = header(&request, "sec-websocket-key").expect("no key");
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        tcp.write_all(response.as_bytes()).await.unwrap();
        RawPeer::new(tcp)
    }

    /// Whether a connection comes within `wait`.
    pub async fn connects_within(&self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.listener.accept())
            .await
            .is_ok()
    }
}

/// The value of a request header (name in any case).
pub fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A server frame: FIN, RSV bits (0 to 7), opcode, payload; unmasked unless
/// `mask` is given; 7-, 16- or 64-bit length as the payload needs.
pub fn frame_with(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let masked = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(masked | len as u8),
        len @ 126..=0xFFFF => {
            out.push(masked | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(masked | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A final, unmasked server frame.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(true, 0, opcode, None, payload)
}

/// A Close frame with `code`.
pub fn close(code: u16) -> Vec<u8> {
    frame(op::CLOSE, &code.to_be_bytes())
}

/// A frame the client sent, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFrame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl ClientFrame {
    /// The code of a Close frame (`None` for a Close without one).
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == op::CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// One upgraded connection: a writing half, and the frames the client
/// sends, usable at the same time.
#[derive(Debug)]
pub struct RawPeer {
    pub writer: OwnedWriteHalf,
    pub frames: Frames,
}

impl RawPeer {
    fn new(tcp: TcpStream) -> Self {
        tcp.set_nodelay(true).unwrap();
        let (reader, writer) = tcp.into_split();
        Self {
            writer,
            frames: Frames {
                reader,
                read: Vec::new(),
            },
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Writes `bytes`, then `trailing` (which the client may never read),
    /// while reading what the client sends back: its Close frame, or `None`
    /// when it closed the socket without one. The write stops quietly
    /// once the client is gone.
    pub async fn send_and_read_close(
        &mut self,
        bytes: &[u8],
        trailing: &[u8],
    ) -> Option<ClientFrame> {
        let Self { writer, frames } = self;
        let write = async {
            if writer.write_all(bytes).await.is_ok() {
                let _ = writer.write_all(trailing).await;
            }
        };
        let (_, close) = tokio::join!(write, frames.close_frame());
        close
    }
}

/// The frames a client sends.
#[derive(Debug)]
pub struct Frames {
    reader: OwnedReadHalf,
    read: Vec<u8>,
}

impl Frames {
    /// The next frame the client sent; `None` when it closed the socket
    /// (FIN or reset) first. Within `WAIT`; panics on an unmasked frame.
    pub async fn next_frame(&mut self) -> Option<ClientFrame> {
        loop {
            if let Some((frame, masked, used)) = parse_client_frame(&self.read) {
                // RFC 6455 §5.1: a client masks every frame it sends.
                assert!(masked, "the client sent an unmasked frame: {frame:?}");
                self.read.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            let read = tokio::time::timeout(WAIT, self.reader.read(&mut chunk))
                .await
                .expect("timed out waiting for the client");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.read.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The client's Close frame, skipping anything before it; `None` when
    /// the socket closed without one.
    pub async fn close_frame(&mut self) -> Option<ClientFrame> {
        while let Some(frame) = self.next_frame().await {
            if frame.opcode == op::CLOSE {
                return Some(frame);
            }
        }
        None
    }

    /// Reads to the end of the client's side: true for a clean close (FIN),
    /// false for a reset, which can destroy what the client sent last.
    /// Within `WAIT`.
    pub async fn ends_with_fin(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            let read = tokio::time::timeout(WAIT, self.reader.read(&mut chunk))
                .await
                .expect("timed out waiting for the client to close");
            match read {
                Ok(0) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }
}

/// A client frame at the start of `bytes`, unmasked, whether it was
/// masked, and its length.
fn parse_client_frame(bytes: &[u8]) -> Option<(ClientFrame, bool, usize)> {
    let [first, second, ..] = *bytes else {
        return None;
    };
    let opcode = first & 0x0F;
    let (len, mut at) = match second & 0x7F {
        126 => (
            u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        len => (len as usize, 2),
    };
    let masked = second & 0x80 != 0;
    let mask: [u8; 4] = if masked {
        let key = bytes.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        key
    } else {
        [0; 4]
    };
    let payload = bytes.get(at..at + len)?;
    let payload = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    Some((ClientFrame { opcode, payload }, masked, at + len))
}
