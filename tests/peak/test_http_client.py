"""The crowd's minimal HTTP/1.1 client against a real loopback server answering the way Varnish and
uvicorn do: sized and chunked bodies split across packets, keep-alive reuse, a server that drops an
idle connection, ``Connection: close`` and a response that never comes."""

from __future__ import annotations

import asyncio

import pytest

from streamlab.streaming.loadgen.http import HttpClient
from streamlab.streaming.loadgen.llhls import parse_media_bytes

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"


class Server:
    """Answers each request by its path; counts the connections it accepted."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                if path == b"/sized":
                    writer.write(HEAD + b"Content-Length: 11\r\nX-Part-Written-At: 1700000000.25\r\n\r\nhello")
                    await writer.drain()
                    await asyncio.sleep(0.02)  # the body's end in a later packet
                    writer.write(b" world")
                elif path == b"/chunked":
                    writer.write(HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel")
                    await writer.drain()
                    await asyncio.sleep(0.02)
                    writer.write(b"lo\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
                elif path == b"/close":
                    writer.write(HEAD + b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
                    await writer.drain()
                    break
                elif path == b"/then-drop":  # keep-alive announced, then the server drops it when idle
                    writer.write(HEAD + b"Content-Length: 2\r\n\r\nok")
                    await writer.drain()
                    await asyncio.sleep(0.05)
                    break
                elif path == b"/missing":
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:  # /never: the head never comes
                    await asyncio.sleep(5)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def run(test) -> None:  # noqa: ANN001 - an async test body taking (client, server)
    async def main() -> None:
        server = Server()
        port = await server.start()
        client = HttpClient("127.0.0.1", port, timeout_s=0.5)
        try:
            await test(client, server)
        finally:
            client.close()
            assert server.server is not None
            server.server.close()

    asyncio.run(main())


def test_sized_and_chunked_bodies_arrive_whole_over_one_kept_alive_connection() -> None:
    async def body(client: HttpClient, server: Server) -> None:
        sized = await client.get("/sized")
        assert (sized.status, sized.body, sized.size, sized.written_at) == (200, b"hello world", 11, b"1700000000.25")
        chunked = await client.get("/chunked")
        assert (chunked.status, chunked.body, chunked.size) == (200, b"hello world", 11)
        counted = await client.get("/chunked", keep_body=False)  # a part: its bytes counted, not kept
        assert (counted.body, counted.size) == (b"", 11)
        missing = await client.get("/missing")
        assert (missing.status, missing.size) == (404, 0)
        assert server.connections == 1

    run(body)


def test_two_requests_in_flight_use_two_connections() -> None:
    async def body(client: HttpClient, server: Server) -> None:
        first, second = await asyncio.gather(client.get("/sized"), client.get("/chunked"))
        assert first.body == second.body == b"hello world"
        assert server.connections == 2

    run(body)


def test_a_connection_the_server_closed_is_replaced_without_an_error() -> None:
    async def body(client: HttpClient, server: Server) -> None:
        assert (await client.get("/close")).body == b"ok"
        assert (await client.get("/sized")).body == b"hello world"  # a new connection after `Connection: close`
        assert (await client.get("/then-drop")).body == b"ok"
        await asyncio.sleep(0.2)  # the server drops the idle connection
        assert (await client.get("/sized")).body == b"hello world"  # the browser's silent retry on a new one
        assert server.connections == 3

    run(body)


def test_a_response_that_never_comes_times_out_and_the_client_goes_on() -> None:
    async def body(client: HttpClient, server: Server) -> None:
        with pytest.raises(TimeoutError):
            await client.get("/never")
        assert (await client.get("/sized")).body == b"hello world"

    run(body)


def test_a_playlist_version_is_parsed_once_per_process() -> None:
    text = ("#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=0.33334\n#EXT-X-MEDIA-SEQUENCE:4\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-05T00:00:00.000Z\n#EXT-X-PART:DURATION=0.33333,URI=\"seg4.0.m4s\"\n")
    first = parse_media_bytes(text.encode())
    assert parse_media_bytes(text.encode()) is first  # equal bytes from another response: the same parse
    assert [(p.msn, p.index, p.uri) for p in first.parts] == [(4, 0, "seg4.0.m4s")]
