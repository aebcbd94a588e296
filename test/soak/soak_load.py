#!/usr/bin/env python3
"""The soak's peers and its mixed load, every byte checked by hash (scripts/soak.sh runs both).

  soak_load.py serve --addr A           the servers, on A: echo, sink, source, reset, until killed
  soak_load.py drive --addr A --seconds N --stats FILE
                                         the load against them, through detourd, for N seconds;
                                         writes its counters to FILE as it goes (one JSON object,
                                         replaced), exits 1 if any byte was lost or corrupted

Servers (ports on A):
  7001 echo    sends back what it reads; half-closes after the client does
  7002 sink    reads until EOF, answers with the SHA-1 (hex) of what it read, closes
  7003 source  reads "SIZE SALT\n", sends SIZE bytes made from SALT (see stream_block), closes
  7004 reset   reads a little, then resets the connection (SO_LINGER 0)
  7009         nothing listens: detourd's connect is refused and it resets the client

Load (one thread per line, each looping until the deadline):
  bulk up, bulk down     4-32 MiB streams to the sink and from the source
  short                  small echo exchanges on new connections
  slow reader            2 MiB from the source, read 16 KiB at a time with pauses
  idle holders           --holders connections kept open, each idle 5-20 s, then checked by an echo
                         and replaced
  client resets          the client resets mid-stream
  upstream resets        the server resets mid-stream
  upstream failures      connections to a port nobody listens on
"""

import argparse
import hashlib
import json
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time

ECHO, SINK, SOURCE, RESET, CLOSED = 7001, 7002, 7003, 7004, 7009
BLOCK = 64 * 1024
IO_TIMEOUT = 30.0  # every socket operation; a hang is an error, never a stuck soak


def stream_block(salt: bytes) -> bytes:
    return hashlib.shake_256(salt).digest(BLOCK)


def stream_chunks(salt: bytes, size: int):
    block = stream_block(salt)
    while size > 0:
        n = min(size, BLOCK)
        yield block[:n]
        size -= n


def linger_zero(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# --- servers -------------------------------------------------------------------------------------


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(IO_TIMEOUT * 4)
        port = sock.getsockname()[1]
        try:
            if port == ECHO:
                while data := sock.recv(BLOCK):
                    sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            elif port == SINK:
                digest = hashlib.sha1()
                while data := sock.recv(BLOCK):
                    digest.update(data)
                sock.sendall(digest.hexdigest().encode() + b"\n")
            elif port == SOURCE:
                line = b""
                while not line.endswith(b"\n") and len(line) < 256:
                    data = sock.recv(1)
                    if not data:
                        return
                    line += data
                size, salt = line.split()
                for chunk in stream_chunks(salt, int(size)):
                    sock.sendall(chunk)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(BLOCK):
                    pass
            elif port == RESET:
                sock.recv(BLOCK)
                linger_zero(sock)
        except OSError:
            pass  # the load's resets end connections here too; the client side checks the bytes


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def serve(addr: str) -> None:
    servers = [Server((addr, port), Handler) for port in (ECHO, SINK, SOURCE, RESET)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    print("soak_load: serving", flush=True)
    for t in threads:
        t.join()


# --- load ----------------------------------------------------------------------------------------


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.bytes_checked = 0
        self.errors = []

    def ok(self, kind: str, checked: int = 0) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.bytes_checked += checked

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors.append(f"{kind}: {what}")
            if len(self.errors) <= 20:
                print(f"soak_load: error: {kind}: {what}", file=sys.stderr, flush=True)

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "connections": sum(self.counts.values()),
                "by_kind": dict(self.counts),
                "bytes_checked": self.bytes_checked,
                "errors": len(self.errors),
                "first_errors": self.errors[:20],
            }


def connect(addr: str, port: int) -> socket.socket:
    sock = socket.create_connection((addr, port), timeout=IO_TIMEOUT)
    sock.settimeout(IO_TIMEOUT)
    return sock


def read_all(sock: socket.socket, digest=None) -> (int, bytes):
    size, kept = 0, b""
    while data := sock.recv(BLOCK):
        size += len(data)
        if digest is not None:
            digest.update(data)
        else:
            kept += data
    return size, kept


def bulk_up(addr, rng, tally):
    size = rng.randint(4, 32) << 20
    block = os.urandom(BLOCK)
    digest = hashlib.sha1()
    with connect(addr, SINK) as sock:
        sent = 0
        while sent < size:
            n = min(BLOCK, size - sent)
            sock.sendall(block[:n])
            digest.update(block[:n])
            sent += n
        sock.shutdown(socket.SHUT_WR)
        _, answer = read_all(sock)
    if answer.strip().decode(errors="replace") != digest.hexdigest():
        tally.error("bulk up", f"{size} bytes: the sink read {answer.strip()!r}, sent {digest.hexdigest()}")
    else:
        tally.ok("bulk up", size)


def fetch_source(addr, size, tally, kind, slow=False):
    salt = os.urandom(8).hex().encode()
    expected = hashlib.sha1()
    for chunk in stream_chunks(salt, size):
        expected.update(chunk)
    digest = hashlib.sha1()
    with connect(addr, SOURCE) as sock:
        sock.sendall(b"%d %s\n" % (size, salt))
        got = 0
        while True:
            data = sock.recv(16 * 1024 if slow else BLOCK)
            if not data:
                break
            got += len(data)
            digest.update(data)
            if slow:
                time.sleep(0.02)
    if got != size or digest.hexdigest() != expected.hexdigest():
        tally.error(kind, f"{got} of {size} bytes, sha1 {digest.hexdigest()} (expected {expected.hexdigest()})")
    else:
        tally.ok(kind, size)


def bulk_down(addr, rng, tally):
    fetch_source(addr, rng.randint(4, 32) << 20, tally, "bulk down")


def slow_reader(addr, rng, tally):
    fetch_source(addr, 2 << 20, tally, "slow reader", slow=True)


def echo_exchange(sock, payload) -> bool:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        data = sock.recv(BLOCK)
        if not data:
            break
        got += data
    return got == payload


def short(addr, rng, tally):
    payload = os.urandom(rng.randint(1, 4096))
    with connect(addr, ECHO) as sock:
        if not echo_exchange(sock, payload):
            tally.error("short", f"{len(payload)} bytes did not come back whole")
            return
        sock.shutdown(socket.SHUT_WR)
        if sock.recv(1) != b"":
            tally.error("short", "bytes after the echo")
            return
    tally.ok("short", 2 * len(payload))


def client_reset(addr, rng, tally):
    with connect(addr, SINK) as sock:
        sock.sendall(os.urandom(rng.randint(1, 256) * 1024))
        linger_zero(sock)
    tally.ok("client reset")


def upstream_reset(addr, rng, tally):
    with connect(addr, RESET) as sock:
        sock.sendall(b"x" * 100)
        try:
            data = sock.recv(BLOCK)
            if data:
                tally.error("upstream reset", f"{len(data)} unexpected bytes")
                return
        except ConnectionResetError:
            pass
    tally.ok("upstream reset")


def upstream_failure(addr, rng, tally):
    # detourd accepts (the redirect leads to it), fails to connect, and resets the client.
    try:
        with connect(addr, CLOSED) as sock:
            data = sock.recv(BLOCK)
            if data:
                tally.error("upstream failure", f"{len(data)} bytes from a port nobody listens on")
                return
    except (ConnectionResetError, ConnectionRefusedError):
        pass
    tally.ok("upstream failure")


def holder(addr, rng, tally, deadline):
    payload = b"still there?"
    try:
        sock = connect(addr, ECHO)
    except OSError as e:
        tally.error("idle holder", f"connect: {e}")
        return
    with sock:
        if not echo_exchange(sock, payload):
            tally.error("idle holder", "first echo")
            return
        time.sleep(max(0.0, min(rng.uniform(5, 20), deadline - time.monotonic())))
        if not echo_exchange(sock, payload):
            tally.error("idle holder", "echo after idling")
            return
    tally.ok("idle holder", 4 * len(payload))


# Pauses after each connection of the kinds that would otherwise open hundreds a second: enough
# churn to matter, not so much that a 30-minute soak runs out of local ports to TIME_WAIT.
PAUSE = {"short": 0.01, "client_reset": 0.05, "upstream_reset": 0.05, "upstream_failure": 0.05}


def loop(action, addr, deadline, tally, seed, *extra):
    rng = random.Random(seed)
    pause = PAUSE.get(action.__name__, 0.0)
    while time.monotonic() < deadline:
        try:
            action(addr, rng, tally, *extra)
        except OSError as e:
            tally.error(action.__name__.replace("_", " "), repr(e))
            time.sleep(0.1)
        time.sleep(pause)


def drive(addr: str, seconds: float, stats: str, holders: int) -> int:
    tally = Tally()
    deadline = time.monotonic() + seconds
    plan = [bulk_up, bulk_up, bulk_down, bulk_down, short, short, short, short, slow_reader, slow_reader,
            client_reset, upstream_reset, upstream_failure]
    threads = [threading.Thread(target=loop, args=(a, addr, deadline, tally, i), daemon=True)
               for i, a in enumerate(plan)]
    threads += [threading.Thread(target=loop, args=(holder, addr, deadline, tally, 1000 + i, deadline), daemon=True)
                for i in range(holders)]
    for t in threads:
        t.start()

    def write_stats(final=False):
        snap = tally.snapshot()
        snap["final"] = final
        tmp = stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(snap, f)
        os.replace(tmp, stats)

    while time.monotonic() < deadline:
        write_stats()
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
    # Every step is bounded by IO_TIMEOUT; the longest (a slow 2 MiB read, a 20 s idle) ends well
    # within this.
    for t in threads:
        t.join(timeout=max(0.0, deadline + 4 * IO_TIMEOUT - time.monotonic()))
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        tally.error("load", f"{stuck} load threads still running {4 * IO_TIMEOUT:.0f} s after the deadline")
    write_stats(final=True)
    snap = tally.snapshot()
    print(f"soak_load: {snap['connections']} connections, {snap['bytes_checked']} bytes checked, "
          f"{snap['errors']} errors; {json.dumps(snap['by_kind'], sort_keys=True)}", flush=True)
    return 1 if snap["errors"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=["serve", "drive"])
    parser.add_argument("--addr", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--stats", default="/dev/null")
    parser.add_argument("--holders", type=int, default=200)
    args = parser.parse_args()
    if args.role == "serve":
        serve(args.addr)
        return 0
    return drive(args.addr, args.seconds, args.stats, args.holders)


if __name__ == "__main__":
    sys.exit(main())
