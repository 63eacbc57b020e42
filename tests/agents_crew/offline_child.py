"""One ask, in a process where every connection but loopback is refused: the hook is in place before anything
is imported (CrewAI's import included) and stays through exit. Prints one JSON line at the very end: what
connected, what was refused, the answer's shape. Run by test_no_network.py with SOPHIA_* settings in the
environment and the question as the argument."""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import socket
import sys

connected: list[str] = []
refused: list[str] = []
report: dict = {}


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _hook(event: str, args: tuple) -> None:
    if event == "socket.connect":
        sock, address = args[0], args[1]
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            if not _loopback(address[0]):
                refused.append(f"connect {address[0]}:{address[1]}")
                raise ConnectionRefusedError(f"no network in this test: {address}")
            connected.append(f"{address[0]}:{address[1]}")
    elif event == "socket.getaddrinfo" and not _loopback(args[0]):
        refused.append(f"resolve {args[0]}")
        raise socket.gaierror(f"no network in this test: {args[0]}")


@atexit.register  # registered first, so it runs last: after CrewAI's own exit handlers
def _print_report() -> None:
    print(json.dumps(report | {"connected": connected, "refused": refused}), flush=True)
    os._exit(0 if report else 1)  # every exit handler has run: skip the interpreter's teardown (seconds for CrewAI)


sys.addaudithook(_hook)


def main(question: str) -> None:
    from core.agents.ask import ask
    from core.auth import Identity
    from core.config import load_settings
    from core.runtime import open_runtime

    rt = open_runtime(load_settings())
    result = ask(runtime=rt, identity=Identity(username="admin", role="admin", via="cli"), question=question)
    report.update(
        finish_reason=result.finish_reason,
        offline=result.offline,
        agents=result.agents,
        tools=[c["tool"] for c in result.tool_calls],
        citations=len(result.citations),
    )
    rt.engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
