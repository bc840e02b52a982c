"""A write after the client ended its TLS stream (close_notify and FIN).

libevent's TLS layer writes nothing once the client's stream has ended, so
the write group's bytes never drain: the session used to wait for them until
the server stopped (seen with python-websockets refusing a permessage-deflate
answer over wss). It must end at once, with reason peer_closed.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawpeer import connect, read_http_head, upgrade_request
from wsreplay.build import server_binary
from wsreplay.running.server import ScenarioServer
from wsreplay.running.tlscerts import RunCerts, make_run_certs

SCENARIOS = Path(__file__).parent / "data" / "tls-scenarios"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ScenarioServer, RunCerts]]:
    work = tmp_path_factory.mktemp("tls-eof")
    certs = make_run_certs(work / "tls", "tls-eof")
    srv = ScenarioServer(server_binary(), SCENARIOS, work / "server.log", work / "tr", certs=certs)
    srv.start()
    yield srv, certs
    assert srv.stop() == 0, srv.stderr_text()


def test_a_write_after_the_clients_tls_eof_ends_the_session(
    server: tuple[ScenarioServer, RunCerts],
) -> None:
    srv, certs = server
    assert srv.info.tls_port is not None
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    raw = connect(srv.info.tls_port)
    tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
    request, _ = upgrade_request("/tls/late-write?run=tlseof")
    tls.sendall(request)
    head, _ = read_http_head(tls)
    assert head.startswith(b"HTTP/1.1 101")
    # close_notify, then FIN, before the server's write (not waiting for the
    # server's close_notify: unwrap() would block for it)
    tls.setblocking(False)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.unwrap()
    tls.close()
    # within the wait, and for that reason: not the session deadline's timeout
    answer = srv.wait_run("tlseof", 10)
    assert answer.get("complete"), answer
    (session,) = answer["sessions"]
    assert session["end"]["reason"] == "peer_closed", session["end"]
    assert "TLS stream" in session["end"]["detail"]
