#!/usr/bin/env bash
# Records the first bytes that real clients send on a new connection, for the name sniffing tests.
#   scripts/capture-client-hellos.sh [OUT_DIR]   (default test/unit/sniff/captures)
#
# For each client a one-shot listener on 127.0.0.1 (port 0, so nothing collides) accepts the first
# connection that sends data, keeps what arrives until 16 KiB, end of stream or 1 s of silence, writes
# it to OUT_DIR/NAME.bin and closes. The client then fails its handshake, which is expected: only
# its first flight matters. The clients:
#   openssl-s_client.bin  openssl s_client -servername www.example.com       (TLS ClientHello)
#   curl-https.bin        curl --resolve curl.example.org:PORT:127.0.0.1      (TLS ClientHello)
#   python-ssl.bin        Python's ssl module, server_hostname=Python.Example.ORG (TLS ClientHello)
#   chromium.bin          headless Chromium, https://chromium.example.org:PORT/ (TLS ClientHello with
#                         an X25519MLKEM768 key share, about 1.8 KB: the post-quantum-sized one)
#   curl-http.bin         curl --resolve plain.example.org:PORT:127.0.0.1 over HTTP (Host header)
# and one derived file, since no client here does ECH against a local server:
#   ech-outer.bin         openssl-s_client.bin with its server_name replaced by public.example.net
#                         and an encrypted_client_hello extension (0xfe0d, outer, random payload
#                         from a fixed seed) added, every length fixed up
# OUT_DIR/README.md is rewritten with the tool and version behind each file. Needs openssl, curl,
# python3 and /usr/bin/chromium; runs as any user (Chromium gets --no-sandbox when run as root).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/test/unit/sniff/captures}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The listener prints its port on stdout once it listens, then records one connection.
listener='
import select, socket, sys, time
out, limit = sys.argv[1], 16384
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(8)
print(server.getsockname()[1], flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if not select.select([server], [], [], deadline - time.monotonic())[0]:
        break
    conn, _ = server.accept()
    data = b""
    while len(data) < limit:
        # 1 s of silence ends the first flight; a connection that never speaks is dropped.
        if not select.select([conn], [], [], 1.0)[0]:
            break
        chunk = conn.recv(limit - len(data))
        if not chunk:
            break
        data += chunk
    conn.close()
    if data:
        open(out, "wb").write(data)
        sys.exit(0)
sys.exit("listener: no client sent anything within 30 s")
'

# capture NAME COMMAND...: COMMAND runs with $PORT in its arguments replaced by the listener's port.
capture() {
  local name=$1
  shift
  local fifo=$work/$name.port
  mkfifo "$fifo"
  python3 -c "$listener" "$out/$name.bin" >"$fifo" &
  local pid=$!
  local port
  read -r port <"$fifo"
  local args=("${@//PORT/$port}")
  # The client's failure is the expected outcome (the listener closes mid-handshake).
  timeout 30 "${args[@]}" >"$work/$name.log" 2>&1 || true
  if ! wait "$pid"; then
    echo "capture: $name: nothing recorded; the client said:" >&2
    cat "$work/$name.log" >&2
    return 1
  fi
  echo "capture: $name.bin $(stat -c %s "$out/$name.bin") bytes"
}

capture openssl-s_client openssl s_client -connect 127.0.0.1:PORT -servername www.example.com </dev/null
capture curl-https curl -sS --max-time 10 --resolve curl.example.org:PORT:127.0.0.1 https://curl.example.org:PORT/
capture python-ssl python3 -c '
import socket, ssl, sys
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
ssl.create_default_context().wrap_socket(sock, server_hostname="Python.Example.ORG")
' PORT
chromium_flags=(--headless --disable-gpu --no-first-run --user-data-dir="$work/chromium"
                --host-resolver-rules="MAP * 127.0.0.1" --dump-dom)
[[ $(id -u) -eq 0 ]] && chromium_flags+=(--no-sandbox)
capture chromium /usr/bin/chromium "${chromium_flags[@]}" https://chromium.example.org:PORT/
capture curl-http curl -sS --max-time 10 --resolve plain.example.org:PORT:127.0.0.1 http://plain.example.org:PORT/

# The ECH-shaped ClientHello: same record and handshake framing, lengths recomputed.
python3 - "$out/openssl-s_client.bin" "$out/ech-outer.bin" <<'EOF'
import random, struct, sys
data = open(sys.argv[1], "rb").read()
assert data[0] == 0x16 and data[5] == 1, "not a ClientHello record"
record_len = struct.unpack(">H", data[3:5])[0]
hello = data[9:5 + record_len]
pos = 2 + 32
pos += 1 + hello[pos]                                         # session id
pos += 2 + struct.unpack(">H", hello[pos:pos + 2])[0]         # cipher suites
pos += 1 + hello[pos]                                         # compression methods
head, ext_block = hello[:pos], hello[pos + 2:]
extensions, i = [], 0
while i < len(ext_block):
    kind, size = struct.unpack(">HH", ext_block[i:i + 4])
    extensions.append((kind, ext_block[i + 4:i + 4 + size]))
    i += 4 + size
name = b"public.example.net"
sni = struct.pack(">HBH", len(name) + 3, 0, len(name)) + name
extensions = [(k, sni if k == 0 else v) for k, v in extensions]
rng = random.Random(0xEC4)
enc, payload = rng.randbytes(32), rng.randbytes(239)
# ECHClientHello, outer: type 0, HKDF-SHA256 + AES-128-GCM, config id, enc<2>, payload<2>.
ech = struct.pack(">BHHB", 0, 0x0001, 0x0001, rng.randrange(256))
ech += struct.pack(">H", len(enc)) + enc + struct.pack(">H", len(payload)) + payload
extensions.append((0xFE0D, ech))
ext_block = b"".join(struct.pack(">HH", k, len(v)) + v for k, v in extensions)
hello = head + struct.pack(">H", len(ext_block)) + ext_block
handshake = bytes([1]) + struct.pack(">I", len(hello))[1:] + hello
open(sys.argv[2], "wb").write(data[:3] + struct.pack(">H", len(handshake)) + handshake)
EOF
echo "capture: ech-outer.bin $(stat -c %s "$out/ech-outer.bin") bytes (derived)"

chromium_version=$(/usr/bin/chromium --version 2>/dev/null | tail -n 1)
size() { stat -c %s "$out/$1"; }
cat >"$out/README.md" <<EOF
# Client first flights, recorded by scripts/capture-client-hellos.sh

Each file is exactly what one client sent on a fresh TCP connection to a listener on 127.0.0.1,
from its first byte until 1 s of silence (TLS clients then wait for the ServerHello). Recorded on
$(date -u +%Y-%m-%d) on $(. /etc/os-release && echo "$PRETTY_NAME").

| file | bytes | client | server name sent |
|---|---|---|---|
| openssl-s_client.bin | $(size openssl-s_client.bin) | $(openssl version), \`s_client -servername\` | www.example.com |
| curl-https.bin | $(size curl-https.bin) | $(curl --version | head -n 1 | cut -d' ' -f1-2), \`--resolve\` over https | curl.example.org |
| python-ssl.bin | $(size python-ssl.bin) | Python $(python3 -c 'import platform; print(platform.python_version())') ssl module ($(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)')), \`wrap_socket(server_hostname=)\` | Python.Example.ORG (sent as given, upper case kept) |
| chromium.bin | $(size chromium.bin) | ${chromium_version}, headless, X25519MLKEM768 key share | chromium.example.org |
| curl-http.bin | $(size curl-http.bin) | $(curl --version | head -n 1 | cut -d' ' -f1-2) over plain HTTP | Host: plain.example.org:PORT (the listener's port) |
| ech-outer.bin | $(size ech-outer.bin) | derived from openssl-s_client.bin: not a client's own bytes | public.example.net, the outer (decoy) name, beside an encrypted_client_hello extension (0xfe0d) with a random payload |

- chromium.bin is the post-quantum-sized one: its X25519MLKEM768 key share (group 0x11ec, 1216
  bytes) makes the ClientHello larger than one 1448-byte TCP segment, so it spans two on a
  1500-byte MTU path. It also carries an encrypted_client_hello extension although no ECH was
  configured: Chromium sends a GREASE one (outer type, random payload) on every connection, so that
  real ECH does not stand out. Its server_name is the real name; the sniffer still says \`ech\`,
  since from outside the two cannot be told apart.
- ech-outer.bin stands in for real ECH, which no client here can do against a local server: the
  server_name is what an ECH client puts in the outer ClientHello (the client-facing server's
  public name), and the real name would be inside the encrypted payload, which here is random.
- The listener's port differs per run, so curl-http.bin's Host port and the TLS randoms and key
  shares change each time the script runs; the tests depend on none of them.
EOF
echo "capture: wrote $out/README.md"
