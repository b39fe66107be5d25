"""lab_server: the kernel connection `make lab` serves sets TCP_NODELAY on its websocket.

The browser suite measures what it is for (each explorer's repaint, through a real
JupyterLab); here, that the class is Jupyter server's own connection, that the server
accepts the option naming it, and that connecting turns Nagle's algorithm off.
"""

from __future__ import annotations

import socket

from jupyter_server.serverapp import ServerApp
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from transformer_course.lab_server import SERVER_ARGS, NoDelayKernelConnection


def test_the_option_selects_the_connection_class():
    app = ServerApp()
    app.parse_command_line(list(SERVER_ARGS))
    assert app.kernel_websocket_connection_class is NoDelayKernelConnection
    assert issubclass(NoDelayKernelConnection, ZMQChannelsWebsocketConnection)


class _Handler:
    """What connect() touches of Tornado's WebSocketHandler: set_nodelay on a real socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def set_nodelay(self, value: bool) -> None:
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if value else 0)


def test_connecting_turns_nagle_off(monkeypatch):
    calls = []  # Jupyter server's own connect(), which needs a running kernel, stood in for
    monkeypatch.setattr(
        ZMQChannelsWebsocketConnection, "connect", lambda self: calls.append(self) or "nudged"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # the default: Nagle on
        # A connection without a server: its websocket_handler trait takes only Tornado's
        # handlers, so the stand-in is stored where traitlets keeps the value.
        connection = NoDelayKernelConnection.__new__(NoDelayKernelConnection)
        object.__setattr__(connection, "_trait_values", {"websocket_handler": _Handler(sock)})
        assert connection.connect() == "nudged"  # Jupyter server's own connect() still runs
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert calls == [connection]
