"""Look at a page the way a person does: headless Chromium opens it, and once its text holds
what is expected and it shows at least ``images`` pictures, a screenshot is taken.

Run with a Python that has tornado (a generated project's environment with Streamlit or
Voila has it), as ``python browser.py URL EXPECTED IMAGES OUT.png``; prints JSON: the page's
text and how many images it shows. Speaks Chrome's DevTools protocol over tornado's websocket
client: nothing to install beyond Debian's chromium.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

# The flags this machine's notes give for Chromium as root on a closed network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _page_socket(port: int, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                pages = json.load(answer)
            page = next(page for page in pages if page["type"] == "page")
            return str(page["webSocketDebuggerUrl"])
        except (OSError, StopIteration, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def look(
    url: str, expected: str, images: int, out: str, seconds: float = 120
) -> dict[str, Any]:
    from tornado.websocket import websocket_connect

    port = _free_port()
    profile = tempfile.mkdtemp(prefix="chromium-")
    chromium = subprocess.Popen(
        ["chromium", *FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        connection = await websocket_connect(_page_socket(port), max_message_size=1 << 28)
        numbers = itertools.count(1)

        async def call(method: str, **params: Any) -> dict[str, Any]:
            number = next(numbers)
            request = {"id": number, "method": method, "params": params}
            await connection.write_message(json.dumps(request))
            while True:
                message = json.loads(await connection.read_message())
                if message.get("id") == number:
                    return dict(message.get("result", {}))

        async def evaluate(expression: str) -> Any:
            return (await call("Runtime.evaluate", expression=expression))["result"].get("value")

        await call("Page.navigate", url=url)
        deadline = time.monotonic() + seconds
        while True:
            text = await evaluate("document.body ? document.body.innerText : ''") or ""
            shown = await evaluate("document.querySelectorAll('img').length") or 0
            if (expected in text and shown >= images) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        shot = await call("Page.captureScreenshot", format="png")
        with open(out, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))
        return {"text": text, "images": shown}
    finally:
        os.killpg(chromium.pid, signal.SIGTERM)
        chromium.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    url, expected, images, out = sys.argv[1:5]
    print(json.dumps(asyncio.run(look(url, expected, int(images), out))))
