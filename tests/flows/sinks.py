"""Receivers on 127.0.0.1 that count what flows send: an SMTP sink and a webhook sink."""

from __future__ import annotations

import collections
import http.server
import re
import socketserver
import threading


class SmtpSink:
    """A minimal SMTP server; counts messages by Message-ID. ``fail_next`` answers 451."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.by_id: collections.Counter[str] = collections.Counter()
        self.fail_next = 0
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sink ESMTP\r\n")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.wfile.write(b"250 sink\r\n")
                    elif verb == b"DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = b""
                        while not data.endswith(b"\r\n.\r\n"):
                            chunk = self.rfile.readline()
                            if not chunk:
                                return
                            data += chunk
                        with sink.lock:
                            if sink.fail_next > 0:
                                sink.fail_next -= 1
                                self.wfile.write(b"451 try again later\r\n")
                                continue
                            sink.messages.append(data)
                            match = re.search(rb"Message-ID: <([^>]+)>", data, re.I)
                            sink.by_id[match.group(1).decode() if match else "?"] += 1
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookSink:
    """An HTTP server that records every POST; ``status_next`` answers with those statuses."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.by_delivery: collections.Counter[str] = collections.Counter()
        self.status_next: list[int] = []
        self.reply = b'{"errcode": 0, "errmsg": "ok"}'
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.lock:
                    status = sink.status_next.pop(0) if sink.status_next else 200
                    if status == 200:
                        sink.requests.append(
                            {"path": self.path, "headers": dict(self.headers), "body": body}
                        )
                        sink.by_delivery[self.headers.get("X-Dealcraft-Delivery") or "?"] += 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(sink.reply)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
