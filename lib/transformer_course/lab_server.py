"""The Jupyter server side of ``make lab``: kernel messages reach the page without waiting.

Every explorer update travels kernel → Jupyter server → browser as several small websocket
messages in a row: the kernel's "busy", the control's echo, each figure, "idle". Jupyter
server (2.x) leaves Nagle's algorithm on for its websockets (Tornado's default until a
handler calls ``set_nodelay(True)``). With Nagle on, a small message written while the one
before is still unacknowledged waits for that acknowledgement, and the browser's TCP stack
delays acknowledgements by up to 40 ms hoping to piggyback them on a reply. Measured here
through the server on 127.0.0.1: two of every three ``x = 1`` executions took 45-50 ms
instead of 5-8 ms, the 40 ms falling between the kernel's "busy" and the next message.

``NoDelayKernelConnection`` is Jupyter server's own kernel connection with ``TCP_NODELAY``
set on its websocket as it connects; ``SERVER_ARGS`` is the command-line option that
selects it (``workspace.lab_command`` and the browser tests pass it).
"""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

SERVER_ARGS = (
    "--ServerApp.kernel_websocket_connection_class=transformer_course.lab_server.NoDelayKernelConnection",
)


class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):
    """A kernel's websocket connection that sends each message at once (``TCP_NODELAY``)."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()
