"""The sandbox answers only requests that call it by a loopback name with its port: a web page
that rebinds its own name to 127.0.0.1 (DNS rebinding) sends that name as ``Host`` and must
read and change nothing, whatever the name, its case, its port or its likeness to ``localhost``."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmark.sandbox import Sandbox

PRIVATE = "private-recipient@example.com"
LOOPBACK = ["localhost", "127.0.0.1", "[::1]"]
MESSAGE = json.dumps({"From": "a@example.com", "To": PRIVATE, "TextBody": "x"})


def call(
    sandbox: Sandbox,
    hosts: list[str],
    path: str = "/sandbox/state.json",
    method: str = "GET",
    body: str = "",
) -> tuple[int, str]:
    """A real HTTP request carrying exactly these ``Host`` headers (none, one or several)."""
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.httpd.server_port, timeout=5)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for host in hosts:
            connection.putheader("Host", host)
        connection.putheader("X-Postmark-Server-Token", "server-token")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body.encode() or None)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def own(sandbox: Sandbox, name: str = "127.0.0.1") -> str:
    return f"{name}:{sandbox.httpd.server_port}"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox for every generated Host, holding a message that must stay private."""
    with Sandbox() as running:
        assert call(running, [own(running)], "/email", "POST", MESSAGE)[0] == 200
        yield running


def refused(status: int, body: str) -> bool:
    return status == 421 and PRIVATE not in body and "localhost" in json.loads(body)["Message"]


hostnames = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,15}[a-z0-9])?(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True
)
names = st.one_of(
    st.sampled_from(LOOPBACK),
    hostnames,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    # Look-alikes: a loopback name inside another, as rebinding services name themselves.
    st.builds("{}.{}".format, st.sampled_from(LOOPBACK), hostnames),
    st.builds("{}.{}".format, hostnames, st.sampled_from(LOOPBACK)),
    st.sampled_from(["localhost.evil.com", "127.0.0.1.nip.io", "localhost.", "127.1", "0.0.0.0"]),
)
cases: st.SearchStrategy[Callable[[str], str]] = st.sampled_from(
    [str.lower, str.upper, str.title, str.swapcase]
)


@given(
    name=names,
    case=cases,
    port=st.one_of(st.just("own"), st.none(), st.integers(1, 65535)),
)
def test_only_a_loopback_name_with_its_own_port_reads_the_sandbox(
    sandbox: Sandbox, name: str, case: Callable[[str], str], port: str | int | None
) -> None:
    number = sandbox.httpd.server_port if port == "own" else port
    host = case(name) + ("" if number is None else f":{number}")
    status, body = call(sandbox, [host])
    if host.lower() in {own(sandbox, name) for name in LOOPBACK}:
        assert status == 200 and PRIVATE in body
    else:
        assert refused(status, body), (host, status, body)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", ""),
        ("GET", "/sandbox/state.json", ""),
        ("PUT", "/sandbox/webhooks", '{"Enabled": false}'),
        ("POST", "/email", MESSAGE),
        ("POST", "/email/batch", f"[{MESSAGE}]"),
        ("GET", "/bounces?count=10&offset=0", ""),
        ("GET", "/message-streams/outbound/suppressions/dump", ""),
    ],
)
@pytest.mark.parametrize(
    "hosts",
    [["localhost.evil.com:{port}"], ["127.0.0.1.nip.io:{port}"], ["127.0.0.1:{port}"] * 2, []],
    ids=["look-alike", "rebinding-service", "two-hosts", "no-host"],
)
def test_every_route_refuses_a_foreign_host_and_changes_nothing(
    sandbox: Sandbox, method: str, path: str, body: str, hosts: list[str]
) -> None:
    before = call(sandbox, [own(sandbox)])[1]
    port = sandbox.httpd.server_port
    status, answer = call(sandbox, [h.format(port=port) for h in hosts], path, method, body)
    assert refused(status, answer)
    assert call(sandbox, [own(sandbox)])[1] == before
    assert sandbox.webhooks.enabled


def test_allowed_hosts_add_names_with_its_port_or_their_own() -> None:
    with Sandbox(allowed_hosts=["sandbox.internal", "Proxy.Test:9000", "::1"]) as sandbox:
        port = sandbox.httpd.server_port
        for host in (f"sandbox.internal:{port}", f"SANDBOX.internal:{port}", "proxy.test:9000"):
            assert call(sandbox, [host])[0] == 200, host
        for host in ("sandbox.internal:1", f"proxy.test:{port}", "sandbox.internal", "evil.test"):
            assert call(sandbox, [host])[0] == 421, host
