#!/usr/bin/env python3
"""delay-proxy.py - a TCP proxy that adds a fixed latency in each direction.

Usage: Benchmarks/scripts/delay-proxy.py --listen [HOST:]PORT --connect HOST:PORT
                                         [--rtt-ms 30] [--verbose]

Listens on HOST:PORT (default host 127.0.0.1); for every accepted connection it opens one to
--connect and forwards bytes both ways. Each chunk read from one side is written to the other
RTT/2 milliseconds after it was read, in order, so a request and its answer cross the proxy
with RTT milliseconds added in all (30 ms: 15 ms each way), as between two regions. Bandwidth
is not limited: chunks keep flowing while earlier ones wait, up to 64 MiB in flight per
direction (then reading pauses). TLS passes through untouched: it is only bytes. A half-close
(EOF) is forwarded after the data before it; a reset closes both sides.

Python 3.8+ standard library only (asyncio). Prints one "listening" line on stderr when ready;
SIGTERM/SIGINT stop it. Used by apply-benchmark.sh; works wherever Python does, unlike
`tc qdisc ... netem`, which needs the sch_netem kernel module (absent on the project's VM).
"""

import argparse
import asyncio
import signal
import socket
import sys

CHUNK = 256 * 1024
MAX_IN_FLIGHT = 64 * 1024 * 1024


def host_port(text, default_host=None):
    host, sep, port = text.rpartition(":")
    if not sep:
        if default_host is None:
            raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
        host = default_host
    try:
        return host or default_host, int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("bad port in %r" % text)


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class Direction:
    """Bytes from one reader to one writer, each chunk delivered `delay` seconds after it was read."""

    def __init__(self, reader, writer, delay):
        self.reader = reader
        self.writer = writer
        self.delay = delay
        self.queue = asyncio.Queue()
        self.in_flight = 0
        self.room = asyncio.Event()
        self.room.set()
        self.bytes = 0

    async def read_side(self):
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self.room.wait()
                data = await self.reader.read(CHUNK)
                self.queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    return
                self.in_flight += len(data)
                if self.in_flight >= MAX_IN_FLIGHT:
                    self.room.clear()
        except (ConnectionError, OSError):
            self.queue.put_nowait((loop.time(), None))  # reset: close at once

    async def write_side(self):
        loop = asyncio.get_running_loop()
        while True:
            due, data = await self.queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                raise ConnectionResetError("peer reset")
            if not data:
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                return
            self.writer.write(data)
            await self.writer.drain()
            self.bytes += len(data)
            self.in_flight -= len(data)
            if self.in_flight < MAX_IN_FLIGHT:
                self.room.set()

    async def run(self):
        reading = asyncio.ensure_future(self.read_side())
        try:
            await self.write_side()
        finally:
            reading.cancel()


async def handle(client_reader, client_writer, args, counter):
    counter[0] += 1
    number = counter[0]
    delay = args.rtt_ms / 2000.0
    try:
        server_reader, server_writer = await asyncio.open_connection(*args.connect)
    except OSError as error:
        print("delay-proxy: connection %d: cannot connect to %s:%d: %s" % ((number,) + args.connect + (error,)),
              file=sys.stderr, flush=True)
        client_writer.close()
        return
    nodelay(client_writer)
    nodelay(server_writer)
    up = Direction(client_reader, server_writer, delay)
    down = Direction(server_reader, client_writer, delay)
    tasks = [asyncio.ensure_future(up.run()), asyncio.ensure_future(down.run())]
    try:
        # Both directions end normally (EOF each way), or the first error ends both.
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved: a reset is an ordinary end here
    finally:
        for writer in (client_writer, server_writer):
            try:
                writer.close()
            except Exception:
                pass
        if args.verbose:
            print("delay-proxy: connection %d closed: %d bytes up, %d bytes down" % (number, up.bytes, down.bytes),
                  file=sys.stderr, flush=True)


async def main():
    parser = argparse.ArgumentParser(description="TCP proxy adding a fixed latency in each direction.")
    parser.add_argument("--listen", required=True, type=lambda s: host_port(s, "127.0.0.1"),
                        help="[HOST:]PORT to listen on (default host 127.0.0.1)")
    parser.add_argument("--connect", required=True, type=host_port, help="HOST:PORT to forward to")
    parser.add_argument("--rtt-ms", type=float, default=30.0,
                        help="round-trip time added, half in each direction (default 30)")
    parser.add_argument("--verbose", action="store_true", help="a line per closed connection")
    args = parser.parse_args()

    counter = [0]
    server = await asyncio.start_server(lambda r, w: handle(r, w, args, counter), *args.listen,
                                        reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("delay-proxy: listening on %s:%d -> %s:%d, %.1f ms added round trip (%.1f ms each way)"
          % (args.listen + args.connect + (args.rtt_ms, args.rtt_ms / 2)), file=sys.stderr, flush=True)
    async with server:
        await stop.wait()
    if args.verbose:
        print("delay-proxy: stopped after %d connections" % counter[0], file=sys.stderr, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
