"""Run one cell in a Jupyter server's kernel over its REST and websocket API; print its output.

Run by tests/test_hub.py with the hub's Python (which has tornado), as
``python hub_client.py BASE_URL TOKEN KERNEL_NAME CODE``.
"""

import json
import sys
import uuid

from tornado import httpclient, ioloop, websocket


async def main() -> None:
    base, token, kernel, code = sys.argv[1:5]
    http = httpclient.AsyncHTTPClient()
    headers = {"Authorization": f"token {token}"}
    reply = await http.fetch(
        f"{base}/api/kernels",
        method="POST",
        headers=headers,
        body=json.dumps({"name": kernel}),
        request_timeout=120,
    )
    kernel_id = json.loads(reply.body)["id"]
    channels = f"{base.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels"
    ws = await websocket.websocket_connect(httpclient.HTTPRequest(channels, headers=headers))
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": "execute_request",
        "username": "tests",
        "session": uuid.uuid4().hex,
        "version": "5.3",
    }
    content = {
        "code": code,
        "silent": False,
        "store_history": False,
        "user_expressions": {},
        "allow_stdin": False,
    }
    message = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
    await ws.write_message(json.dumps({**message, "channel": "shell", "buffers": []}))
    out = []
    while True:
        received = json.loads(await ws.read_message())
        if received.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = received["header"]["msg_type"]
        if kind == "stream":
            out.append(received["content"]["text"])
        elif kind == "error":
            out.append(f"ERROR {received['content']['ename']}\n")
        elif kind == "status" and received["content"]["execution_state"] == "idle":
            break
    await http.fetch(f"{base}/api/kernels/{kernel_id}", method="DELETE", headers=headers)
    print("".join(out), end="")


ioloop.IOLoop.current().run_sync(main, timeout=180)
