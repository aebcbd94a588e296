#!/usr/bin/env python3
"""Small TCP tools for scripts/bench.sh: a greeting server, an idle-connection holder that measures
a process's RSS growth, and a connect-to-first-byte latency meter.

Python is accurate enough here: every proxy is measured with the same client, so the interpreter's
fixed cost per sample (about 10-20 us on this machine) shifts every column alike, and the direct
column shows it.
"""
import argparse
import selectors
import socket
import statistics
import sys
import time

GREETING = b"g"


def serve(args):
    """Accept on every address of --addr (comma-separated), send one byte at once, hold the
    connection until the peer closes it."""
    sel = selectors.DefaultSelector()
    for addr in args.addr.split(","):
        listener = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((addr, args.port))
        listener.listen(4096)
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ, None)
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            if key.data is None:
                # Drain the accept queue: the holder opens hundreds of connections at once.
                for _ in range(256):
                    try:
                        conn, _ = key.fileobj.accept()
                    except BlockingIOError:
                        break
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    try:
                        conn.send(GREETING)
                    except OSError:
                        conn.close()
                        continue
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, 1)
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    conn.close()


def read_rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def hold(args):
    """Open --count connections, wait for every greeting (so the proxy has its upstream open and has
    relayed a byte), then report the RSS growth of --pids per connection in KiB."""
    pids = [int(p) for p in args.pids.split(",") if p]
    before = read_rss_kib(pids)
    sel = selectors.DefaultSelector()
    held = []
    pending = 0
    opened = 0
    deadline = time.monotonic() + args.max_seconds
    last_progress = time.monotonic()
    while len(held) < args.count:
        now = time.monotonic()
        if now > deadline or now - last_progress > args.stall_seconds:
            sys.exit(f"hold: only {len(held)} of {args.count} connections greeted "
                     f"({'stalled' if now <= deadline else 'out of time'})")
        # A bounded number in flight keeps every proxy's accept queue from overflowing (a lost SYN
        # costs a one-second retransmission and would measure the queue, not the memory).
        while pending < args.in_flight and opened < args.count:
            s = socket.socket(socket.AF_INET6 if ":" in args.addr else socket.AF_INET)
            s.setblocking(False)
            s.connect_ex((args.addr, args.port))
            sel.register(s, selectors.EVENT_READ, None)
            pending += 1
            opened += 1
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            try:
                data = s.recv(16)
            except OSError as error:
                sys.exit(f"hold: connection failed: {error}")
            if data != GREETING:
                sys.exit(f"hold: connection closed before the greeting ({data!r})")
            held.append(s)
            last_progress = time.monotonic()
    # Let the proxy settle (deferred frees, pipe returns) before reading its memory.
    time.sleep(args.settle)
    after = read_rss_kib(pids)
    print(f"{(after - before) / args.count:.3f}")
    print(f"hold: {args.count} connections, rss {before} -> {after} KiB", file=sys.stderr)
    for s in held:
        s.close()


def latency(args):
    """Sequential connections; each sample is connect() to the first byte received, in us. With
    --request, the client speaks first (an HTTP request, which a proxy may wait for to read its
    Host) and the first bytes must be an HTTP status line; else the server greets first."""
    request = args.request.encode().decode("unicode_escape").encode() if args.request else b""
    expected = b"HTTP/1." if request else GREETING
    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    samples = []
    deadline = time.monotonic() + args.max_seconds
    for _ in range(args.count):
        if time.monotonic() > deadline:
            break
        s = socket.socket(family)
        s.settimeout(2.0)
        start = time.perf_counter_ns()
        s.connect((args.addr, args.port))
        if request:
            s.sendall(request)
        data = s.recv(16)
        end = time.perf_counter_ns()
        s.close()
        if not data.startswith(expected):
            sys.exit(f"latency: no {'response' if request else 'greeting'} ({data!r})")
        samples.append((end - start) / 1000.0)
    if len(samples) < args.count // 2:
        sys.exit(f"latency: only {len(samples)} of {args.count} samples in {args.max_seconds}s")
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"p50={p50:.1f}")
    print(f"p99={p99:.1f}")
    print(f"latency: {len(samples)} samples p50 {p50:.1f} us p99 {p99:.1f} us", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--max-seconds", type=float, default=7200)
    p.set_defaults(func=serve)
    p = sub.add_parser("hold")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--pids", default="")
    p.add_argument("--in-flight", type=int, default=128)
    p.add_argument("--settle", type=float, default=0.5)
    p.add_argument("--max-seconds", type=float, default=60)
    p.add_argument("--stall-seconds", type=float, default=10)
    p.set_defaults(func=hold)
    p = sub.add_parser("latency")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--max-seconds", type=float, default=60)
    p.add_argument("--request", default="", help="sent after connect; backslash escapes (\\r\\n) allowed")
    p.set_defaults(func=latency)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
