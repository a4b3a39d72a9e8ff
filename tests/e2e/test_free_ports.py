"""The ports handed to child processes cannot be taken by the suite's own port-0 servers."""

from __future__ import annotations

import socket

from tests.support.ports import ephemeral_range, free_port


def test_a_port_for_a_child_process_is_never_one_a_bind_to_port_0_can_take() -> None:
    low, high = ephemeral_range()
    ports = {free_port() for _ in range(50)}
    assert all(port < low or port > high for port in ports)
    assert len(ports) > 1  # drawn, not one fixed port that two runs side by side would share


def test_a_port_drawn_is_free_to_listen_on() -> None:
    port = free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
