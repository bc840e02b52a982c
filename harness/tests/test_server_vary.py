"""`?vary=NAME`: each variant's cuts, on a real socket and in the transcript.

steps/vary (data/step-scenarios/) holds a split group of six frames — every
header shape: 7-bit, masked, 64-bit form, 16-bit form, a frame inside a raw
item, an empty ping — then a frame cut across two groups (raw "81 03 61",
raw "62 63"), and after the client's close a close frame. Each variant must
send the same bytes as the plain scenario, in the variant's pieces: the
transcript's writes give the pieces exactly, and every read ends where a
piece ends (on loopback a piece arrives whole; reads may join pieces, never
split one). Over TLS, each record is decrypted alone to see its size.
"""

from __future__ import annotations

import itertools
import ssl

import pytest

from rawpeer import connect, masked_frame, read_http_head, read_until_close, upgrade_request
from wsreplay.running.server import ScenarioServer

#: The bytes before the client's close: the first group (234) and the frame
#: cut across the next two (5); the close frame (4) follows the client's.
BEFORE_CLOSE = 239
FRAMES = [7, 7, 11, 204, 3, 2]
PIECES = {
    None: [3, 231, 3, 2, 4],  # the scenario's own split at 3
    "frames": [*FRAMES, 3, 2, 4],
    "gaps": [*FRAMES, 3, 2, 4],
    "header-payload": [2, 5, 6, 1, 10, 1, 4, 200, 2, 1, 2, 2, 1, 2, 2, 2],
    "every-byte": [1] * 243,
}


@pytest.fixture(scope="module")
def server(step_server: ScenarioServer) -> ScenarioServer:
    return step_server


def session(server: ScenarioServer, run: str) -> dict:
    answer = server.wait_run(run, 10)
    assert answer["complete"], answer
    return answer["sessions"][0]


def piece_sizes(sess: dict) -> list[int]:
    """The writes of the scenario's groups (the automatic 101 is the first)."""
    writes = [e for e in sess["events"] if e["type"] == "write"]
    return [w["bytes"] for w in writes[1:]]


def play_plain(server: ScenarioServer, query: str, run: str) -> list[bytes]:
    """Every read of steps/vary over ws://, the client closing once the
    groups are in: the reads after the 101 head."""
    assert server.info is not None
    sock = connect(server.info.port)
    with sock:
        sock.sendall(upgrade_request(f"/steps/vary?run={run}{query}")[0])
        head, rest = read_http_head(sock)
        assert head.startswith(b"HTTP/1.1 101 "), head
        reads = [rest] if rest else []
        while sum(map(len, reads)) < BEFORE_CLOSE:
            data = sock.recv(65536)
            assert data, reads
            reads.append(data)
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        reads += read_until_close(sock)
    return reads


def ends(sizes: list[int]) -> set[int]:
    total, out = 0, set()
    for n in sizes:
        total += n
        out.add(total)
    return out


@pytest.fixture(scope="module")
def plain_stream(server: ScenarioServer) -> bytes:
    reads = play_plain(server, "", "plain")
    assert piece_sizes(session(server, "plain")) == PIECES[None]
    return b"".join(reads)


@pytest.mark.parametrize("variant", ["frames", "header-payload", "every-byte", "gaps"])
def test_variant_cuts_every_group_its_way(
    server: ScenarioServer, plain_stream: bytes, variant: str
) -> None:
    run = f"v-{variant}"
    reads = play_plain(server, f"&vary={variant}", run)
    assert b"".join(reads) == plain_stream  # the same bytes
    sess = session(server, run)
    assert sess["vary"] == variant
    assert piece_sizes(sess) == PIECES[variant]  # the step's own split is gone
    # read by read: a read may join pieces, never split one
    assert ends([len(r) for r in reads]) <= ends(PIECES[variant])
    writes = [e for e in sess["events"] if e["type"] == "write"][1:]
    assert [w.get("piece") for w in writes[:3]] == [0, 1, 2]
    if variant == "gaps":
        first = [w["t_us"] for w in writes[: len(FRAMES)]]
        assert all(b - a >= 5000 for a, b in itertools.pairwise(first)), first


def test_plain_session_has_no_vary_field(server: ScenarioServer, plain_stream: bytes) -> None:
    assert "vary" not in session(server, "plain")


class TlsRecords:
    """A TLS client over a raw socket that decrypts one record at a time."""

    def __init__(self, port: int) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = connect(port)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.raw = b""
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._feed_raw()
                self._give_all()
        self._flush()

    def _flush(self) -> None:
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _feed_raw(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.raw += data

    def _give_all(self) -> None:
        self.inc.write(self.raw)
        self.raw = b""

    def send(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def record(self) -> bytes | None:
        """The plaintext of the next application record (b"" for one that
        carries none, like a session ticket); None at EOF."""
        while len(self.raw) < 5 or len(self.raw) < 5 + int.from_bytes(self.raw[3:5], "big"):
            try:
                self._feed_raw()
            except EOFError:
                return None
        n = 5 + int.from_bytes(self.raw[3:5], "big")
        self.inc.write(self.raw[:n])
        self.raw = self.raw[n:]
        plain = b""
        while True:
            try:
                chunk = self.tls.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                return plain
            if not chunk:
                return plain
            plain += chunk


@pytest.mark.parametrize(
    ("variant", "records"),
    [("tls-record-per-write", [234, 3, 2]), ("tls-record-per-byte", [1] * BEFORE_CLOSE)],
)
def test_tls_variant_sends_a_record_per_piece(
    server: ScenarioServer, plain_stream: bytes, variant: str, records: list[int]
) -> None:
    assert server.info is not None and server.info.tls_port is not None
    peer = TlsRecords(server.info.tls_port)
    run = f"t-{variant}"
    with peer.sock:
        peer.send(upgrade_request(f"/steps/vary?run={run}&vary={variant}")[0])
        head = b""
        while b"\r\n\r\n" not in head:
            got = peer.record()
            assert got is not None
            head += got
        assert head.startswith(b"HTTP/1.1 101 ") and head.endswith(b"\r\n\r\n")
        sizes: list[int] = []
        stream = b""
        while len(stream) < BEFORE_CLOSE:
            got = peer.record()
            assert got is not None, sizes
            if got:
                sizes.append(len(got))
                stream += got
        peer.send(masked_frame(0x8, b"\x03\xe8"))
        while (got := peer.record()) is not None and len(stream) < len(plain_stream):
            if got:
                sizes.append(len(got))
                stream += got
    assert stream == plain_stream
    assert sizes[: len(records)] == records
    assert sizes[len(records) :] == ([4] if variant.endswith("write") else [1] * 4)
    sess = session(server, run)
    assert sess["vary"] == variant and sess["transport"] == "wss"


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/steps/vary?run=bad&vary=every-bytes", 400, b"invalid vary"),
        ("/steps/vary?run=bad2&vary=tls-record-per-byte", 400, b"only over wss://"),
        ("/steps/vary-no?run=no&vary=frames", 400, b"opts out of variants: the cut after"),
    ],
)
def test_refused_variants_name_the_reason(
    server: ScenarioServer, path: str, status: int, words: bytes
) -> None:
    assert server.info is not None
    with connect(server.info.port) as sock:
        sock.sendall(upgrade_request(path)[0])
        answer = b"".join(read_until_close(sock))
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert words in answer


def test_opted_out_scenario_plays_plain(server: ScenarioServer) -> None:
    assert server.info is not None
    with connect(server.info.port) as sock:
        sock.sendall(upgrade_request("/steps/vary-no?run=no-plain")[0])
        _, rest = read_http_head(sock)
        sock.settimeout(5)
        stream = rest
        while len(stream) < 4:
            stream += sock.recv(100)
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        read_until_close(sock)
    assert stream == b"\x81\x02hi"
    assert piece_sizes(session(server, "no-plain")) == [1, 3]
