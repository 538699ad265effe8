"""Ports picked for child servers stay out of the kernel's ephemeral range, where a starting server
picks its own random ports, and are never handed out twice."""

import socket

from cli.ports import _bindable, ephemeral_range, free_port


def test_free_ports_are_bindable_distinct_and_outside_the_ephemeral_range():
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(not low <= port <= high for port in ports)
    for port in ports[:5]:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_port_someone_listens_on_is_not_bindable_until_released():
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        assert not _bindable(port, "127.0.0.1")
    assert _bindable(port, "127.0.0.1")
