"""Receivers on 127.0.0.1 that count what flows send: an SMTP sink and a webhook sink.

Both behave like real receivers that deduplicate by the idempotency key the sender puts on a
message (the e-mail's Message-ID, the webhook's ``Idempotency-Key``): the first arrival of a
key is accepted and delivered; a repeat is acknowledged the same way but not delivered again.
A message without a key cannot be recognised and is delivered every time it arrives.

``delivered`` lists the keys in delivery order, ``messages`` / ``requests`` the delivered
messages; ``arrivals`` counts every arrival per key, so ``repeats`` is what a receiver that
does not deduplicate would have delivered twice.
"""

from __future__ import annotations

import collections
import http.server
import re
import socketserver
import threading

NO_KEY = "?"


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A sender killed mid-conversation is what the crash test does: not an error here."""


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """As for SMTP: a sender that went away mid-request."""


class _Deduplicator:
    """The receiver's memory of keys it has delivered (shared by its handler threads)."""

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.arrivals: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self._seen: set[str] = set()

    def accept(self, key: str | None) -> bool:
        """Count an arrival; True when it is delivered (a new key, or no key at all)."""
        key = key or NO_KEY
        with self.lock:
            self.arrivals[key] += 1
            if key != NO_KEY and key in self._seen:
                return False
            self._seen.add(key)
            self.delivered.append(key)
            return True

    @property
    def repeats(self) -> int:
        """Arrivals of a key already delivered (acknowledged, not delivered again)."""
        return sum(n - 1 for key, n in self.arrivals.items() if key != NO_KEY)


class SmtpSink(_Deduplicator):
    """A minimal SMTP server deduplicating by Message-ID. ``fail_next`` answers 451."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[bytes] = []
        self.fail_next = 0
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
                            failing = sink.fail_next > 0
                            if failing:
                                sink.fail_next -= 1
                        if failing:
                            self.wfile.write(b"451 try again later\r\n")
                            continue
                        match = re.search(rb"Message-ID: <([^>]+)>", data, re.I)
                        if sink.accept(match.group(1).decode() if match else None):
                            with sink.lock:
                                sink.messages.append(data)
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = _TcpServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookSink(_Deduplicator):
    """An HTTP server deduplicating POSTs by ``Idempotency-Key``; ``status_next`` answers with
    those statuses (a refused POST is neither counted nor remembered)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict] = []
        self.status_next: list[int] = []
        self.reply = b'{"errcode": 0, "errmsg": "ok"}'
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender went away mid-request: nothing was received
                with sink.lock:
                    status = sink.status_next.pop(0) if sink.status_next else 200
                key = self.headers.get("Idempotency-Key") or self.headers.get(
                    "X-Dealcraft-Delivery"
                )
                if status == 200 and sink.accept(key):
                    with sink.lock:
                        sink.requests.append(
                            {"path": self.path, "headers": dict(self.headers), "body": body}
                        )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(sink.reply)

            def log_message(self, *args) -> None:
                pass

        self.server = _HttpServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
