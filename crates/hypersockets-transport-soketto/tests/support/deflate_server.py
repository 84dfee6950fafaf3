"""An independent WebSocket server for the soketto transport's tests.

Python's `websockets` (10.x, Debian's python3-websockets), which
negotiates permessage-deflate (RFC 7692) itself. Usage:

    deflate_server.py '<json config>'

It binds 127.0.0.1 port 0, prints the port on one line, and serves until
its standard input closes (the test holds the other end) or it is killed.

Config keys (all optional):
  compression               false: no permessage-deflate (default true)
  server_no_context_takeover, client_no_context_takeover,
  server_max_window_bits, client_max_window_bits
                            the server's own permessage-deflate settings
  raw_answer                a plain socket server instead: answers any
                            upgrade with 101 and this Sec-WebSocket-Extensions
                            value, then sends nothing

On each connection the server first sends a text message, JSON:
{"extensions": <its Sec-WebSocket-Extensions answer or null>,
 "offer": <the client's offer or null>}. Then it echoes every message
(text as text, binary as binary), except text that is a JSON object with a
"cmd" key:
  {"cmd": "send", "kind": "text"|"binary", "size": N, "count": K}
      K messages of N bytes each, see content() below
  {"cmd": "stats"}    a text JSON: compressed frames in and out and their
                      payload bytes on the wire, messages echoed
  {"cmd": "close", "code": C, "reason": R}
  {"cmd": "ping", "data": D}   a Ping with D; once its Pong is back, a text
                               JSON {"pong": D}
  {"cmd": "bomb", "size": N}   a binary message of N zero bytes (compressed
                               to about N/1000 when deflate is on)
"""

import asyncio
import base64
import hashlib
import json
import os
import sys
import threading

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Opcode

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def content(kind, index, size):
    """Message `index` of `size` bytes: the test computes the same."""
    head = f"{kind}{index}:"
    body = head + ALPHABET * (size // len(ALPHABET) + 1)
    return body[:size]


def count_frames(ws, stats):
    """Wraps the negotiated extensions to count compressed frames."""
    for ext in ws.extensions:
        decode, encode = ext.decode, ext.encode

        def counting_decode(frame, *, max_size=None, _decode=decode):
            if frame.rsv1:
                stats["compressed_in"] += 1
                stats["wire_in"] += len(frame.data)
            return _decode(frame, max_size=max_size)

        def counting_encode(frame, _encode=encode):
            out = _encode(frame)
            if out.rsv1 and out.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                stats["compressed_out"] += 1
                stats["wire_out"] += len(out.data)
            return out

        ext.decode = counting_decode
        ext.encode = counting_encode


async def handler(ws, path=None):
    stats = {
        "compressed_in": 0,
        "compressed_out": 0,
        "wire_in": 0,
        "wire_out": 0,
        "messages_in": 0,
    }
    count_frames(ws, stats)
    await ws.send(
        json.dumps(
            {
                "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
                "offer": ws.request_headers.get("Sec-WebSocket-Extensions"),
            }
        )
    )
    async for message in ws:
        stats["messages_in"] += 1
        command = None
        if isinstance(message, str) and message.startswith("{"):
            try:
                command = json.loads(message)
            except ValueError:
                command = None
        if not isinstance(command, dict) or "cmd" not in command:
            await ws.send(message)
            continue
        stats["messages_in"] -= 1
        cmd = command["cmd"]
        if cmd == "send":
            for index in range(command["count"]):
                text = content(command["kind"], index, command["size"])
                await ws.send(text if command["kind"] == "text" else text.encode())
        elif cmd == "stats":
            await ws.send(json.dumps(stats))
        elif cmd == "close":
            await ws.close(command["code"], command.get("reason", ""))
            return
        elif cmd == "ping":
            waiter = await ws.ping(command["data"])
            await waiter
            await ws.send(json.dumps({"pong": command["data"]}))
        elif cmd == "bomb":
            await ws.send(bytes(command["size"]))


async def raw_answer(value, reader, writer):
    """Answers the upgrade with `value` as the extensions, then waits."""
    request = await reader.readuntil(b"\r\n\r\n")
    key = ""
    for line in request.decode("latin-1").split("\r\n"):
        name, _, rest = line.partition(":")
        if name.strip().lower() == "sec-websocket-key":
            key = rest.strip()
    accept = base64.b64encode(
        hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    ).decode()
    writer.write(
        (
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n"
            f"Sec-WebSocket-Extensions: {value}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    while await reader.read(4096):
        pass
    writer.close()


async def main(config):
    if "raw_answer" in config:
        server = await asyncio.start_server(
            lambda r, w: raw_answer(config["raw_answer"], r, w), "127.0.0.1", 0
        )
    else:
        extensions = None
        compression = "deflate"
        if config.get("compression", True):
            extensions = [
                ServerPerMessageDeflateFactory(
                    server_no_context_takeover=config.get("server_no_context_takeover", False),
                    client_no_context_takeover=config.get("client_no_context_takeover", False),
                    server_max_window_bits=config.get("server_max_window_bits"),
                    client_max_window_bits=config.get("client_max_window_bits"),
                )
            ]
        else:
            compression = None
        server = await websockets.serve(
            handler,
            "127.0.0.1",
            0,
            compression=compression if extensions is None else None,
            extensions=extensions,
            max_size=None,
            ping_interval=None,
        )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    await asyncio.Future()


def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    asyncio.run(main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}))
