#!/usr/bin/env python3
"""Turns scripts/bench.sh's raw.csv (proxy,key,destination,repetition,value) into Markdown tables, one
per destination, and the gnuplot data of the ratios on the first destination. Medians over
repetitions; ratios only between figures of one run and one destination."""
import csv
import statistics
import sys
from collections import defaultdict

PROXIES = [
    ("direct", "direct"),
    ("haproxy-splice", "HAProxy splice"),
    ("haproxy", "HAProxy"),
    ("redsocks", "redsocks→microsocks"),
    ("detourd", "detourd"),
    ("detourd-b", "detourd (B)"),
]
DESTS = {"lo4": "127.0.0.1", "lo6": "::1", "br4": "10.77.0.1", "br6": "fd77::1"}
# (key, label, higher_is_better)
WORKLOADS = [
    ("iperf1", "iperf3 1 stream, Gbit/s", True),
    ("iperf8", "iperf3 8 streams, Gbit/s", True),
    ("wrk_close", "wrk 50 conns `Connection: close`, req/s", True),
    ("wrk_keepalive", "wrk 50 conns keep-alive, req/s", True),
    ("idle_rss", "RSS per idle connection, KiB", False),
    ("latency_p50", "connect + first byte p50, µs", False),
    ("latency_p99", "connect + first byte p99, µs", False),
    ("latency_http_p50", "connect + request + first byte p50 (port 8080), µs", False),
    ("latency_http_p99", "connect + request + first byte p99 (port 8080), µs", False),
]
# The active workloads: connections held open, each sending 64 bytes every 100 ms (every second for
# active10k_slow).
for _name, _what in (("active100", "100 active conns"), ("active1k", "1k active conns"),
                     ("active10k", "10k active conns"), ("active10k_slow", "10k active conns, 1 s apart")):
    WORKLOADS += [
        (f"{_name}_conns", f"{_what}: connections held", True),
        (f"{_name}_req_per_s", f"{_what}: requests answered/s", True),
        (f"{_name}_p50", f"{_what}: round trip p50, µs", False),
        (f"{_name}_p99", f"{_what}: round trip p99, µs", False),
        (f"{_name}_cpu_per_req", f"{_what}: proxy CPU per request, µs", False),
        (f"{_name}_errors", f"{_what}: connections lost", False),
    ]
# Counts that say what was measured rather than how well: in the table, not in the chart.
NOT_CHARTED = {f"{name}_{what}" for name in ("active100", "active1k", "active10k", "active10k_slow")
               for what in ("conns", "errors")}
SHORT = {"iperf1": "1 stream", "iperf8": "8 streams", "wrk_close": "conn close",
         "wrk_keepalive": "keep-alive", "idle_rss": "idle RSS", "latency_p50": "connect p50",
         "latency_p99": "connect p99", "latency_http_p50": "request p50", "latency_http_p99": "request p99",
         "active100_req_per_s": "100 act req/s", "active100_p50": "100 act p50", "active100_p99": "100 act p99",
         "active100_cpu_per_req": "100 act CPU/req", "active10k_req_per_s": "10k act req/s",
         "active10k_p50": "10k act p50", "active10k_p99": "10k act p99", "active10k_cpu_per_req": "10k act CPU/req"}


def fmt(value):
    if value is None:
        return "—"
    if abs(value) >= 100 or value.is_integer():
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(median, present, workloads):
    """The Markdown table of one destination."""
    lines = []
    head = "| workload | " + " | ".join(label for _, label in present)
    has_pair = any(k == "detourd" for k, _ in present) and any(k == "haproxy-splice" for k, _ in present)
    if has_pair:
        head += " | detourd / HAProxy splice"
    has_b = any(k == "detourd-b" for k, _ in present) and any(k == "detourd" for k, _ in present)
    if has_b:
        head += " | B / detourd"
    lines.append(head + " |")
    lines.append("|---" * (len(present) + 1 + int(has_pair) + int(has_b)) + "|")
    for key, label, _higher in workloads:
        direct = median.get(("direct", key))
        cells = []
        for proxy, _ in present:
            value = median.get((proxy, key))
            cell = fmt(value)
            if value is not None and direct and proxy != "direct":
                cell += f" ({value / direct:.2f}×)"
            cells.append(cell)
        row = f"| {label} | " + " | ".join(cells)
        if has_pair:
            d, h = median.get(("detourd", key)), median.get(("haproxy-splice", key))
            row += " | " + (f"**{d / h:.2f}×**" if d is not None and h else "—")
        if has_b:
            d, b = median.get(("detourd", key)), median.get(("detourd-b", key))
            row += " | " + (f"{b / d:.2f}×" if d and b is not None else "—")
        lines.append(row + " |")
    return lines


def main():
    raw_path, table_path, dat_path, title = sys.argv[1:5]
    values = defaultdict(list)
    dests = []
    with open(raw_path) as raw:
        for proxy, key, dest, _rep, value in csv.reader(raw):
            values[(dest, proxy, key)].append(float(value))
            if dest not in dests:
                dests.append(dest)
    dests.sort(key=lambda d: list(DESTS).index(d) if d in DESTS else len(DESTS))
    medians = defaultdict(dict)
    for (dest, proxy, key), v in values.items():
        medians[dest][(proxy, key)] = statistics.median(v)
    known = {w[0] for w in WORKLOADS}
    keys = list(dict.fromkeys(k for _, _, k in values))
    # A key the table has no label for still shows, under its own name.
    workloads = [w for w in WORKLOADS if w[0] in keys] + [(k, k, False) for k in keys if k not in known]

    lines = [f"_{title}_", ""]
    for dest in dests:
        median = medians[dest]
        present = [(k, label) for k, label in PROXIES if any(p == k for p, _ in median)]
        rows = [w for w in workloads if any(k == w[0] for _, k in median)]
        lines.append(f"**{dest}** ({DESTS.get(dest, dest)}):")
        lines.append("")
        lines += table(median, present, rows)
        lines.append("")
    lines.append("Figures are medians; (×) is the ratio to `direct` in the same run. "
                 "Throughput: higher is better; RSS and latency: lower is better.")
    text = "\n".join(lines) + "\n"
    with open(table_path, "w") as out:
        out.write(text)
    print(text)

    # Chart data, of the first destination only (one chart stays readable): each proxy relative to
    # HAProxy splice (or to direct when HAProxy splice was not run), turned so that higher is always
    # better (memory and latency inverted), one row per workload, one column per proxy.
    median = medians[dests[0]] if dests else {}
    present = [(k, label) for k, label in PROXIES if any(p == k for p, _ in median)]
    workloads = [w for w in workloads if w[0] not in NOT_CHARTED and any(k == w[0] for _, k in median)]
    base_key = "haproxy-splice" if any(k == "haproxy-splice" for k, _ in present) else "direct"
    chart_proxies = [(k, label) for k, label in present if k != base_key] or present
    with open(dat_path, "w") as dat:
        dat.write(f"# base: {dict(PROXIES)[base_key]} on {dests[0] if dests else '-'}\n")
        dat.write("workload " + " ".join(f'"{label}"' for _, label in chart_proxies) + "\n")
        for key, _label, higher in workloads:
            base = median.get((base_key, key))
            cells = []
            for proxy, _ in chart_proxies:
                value = median.get((proxy, key))
                if value is None or not base or value <= 0:
                    cells.append("NaN")
                else:
                    cells.append(f"{(value / base) if higher else (base / value):.3f}")
            dat.write(f'"{SHORT.get(key, key)}" ' + " ".join(cells) + "\n")


if __name__ == "__main__":
    main()
