#!/usr/bin/env python3
"""Local stand-ins between two programs, until stopped: `relay` (plain TCP) and `front` (API Gateway).

Usage: proxy.py relay LISTEN_HOST PORT          TCP from LISTEN_HOST:PORT to 127.0.0.1:PORT
       proxy.py front LISTEN_PORT FUNCTION_PORT  an HTTP API on 127.0.0.1:LISTEN_PORT in front of
                                                 `cargo lambda watch` on FUNCTION_PORT

`relay`: A function in a `sam local` container reaches the host at `host.docker.internal`, which Docker
on Linux maps to the bridge's gateway address; a local DynamoDB listening on 127.0.0.1 only (as
`make run`'s does, so that the network never sees it) is not there. This relay is, for as long as
the SAM command runs, and only on the bridge: the containers and the host reach it, nothing else.

`front`: `cargo lambda watch` turns an HTTP request into a Lambda event itself, and answers a 500 of its
own, before the function runs, to a header value or a body that is not UTF-8. API Gateway does
not: it base64-encodes a body that is not text (`isBase64Encoded`), and passes header values on.
This front does what API Gateway does (payload format 2.0, `$default` route and stage), sends
the event to the emulator's Invoke API (what `cargo lambda invoke` uses), and answers with the
function's response. The schemathesis run of `make test` goes through it, so that every request
schemathesis generates reaches the function.
"""

import asyncio
import base64
import json
import sys
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def relay_tcp(host, port):
    async def relay(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(relay, host, port)
    async with server:
        await server.serve_forever()


def http_api_front(listen_port, function_port):
    invoke_url = (
        f"http://127.0.0.1:{function_port}/2015-03-31/functions/conversions/invocations"
    )

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            headers = {}
            for name, value in self.headers.items():
                name = name.lower()
                # API Gateway joins a repeated header's values with commas.
                headers[name] = f"{headers[name]},{value}" if name in headers else value
            try:
                text, encoded = body.decode("utf-8"), False
            except UnicodeDecodeError:
                text, encoded = base64.b64encode(body).decode("ascii"), True
            request_id = str(uuid.uuid4())
            event = {
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "rawQueryString": query,
                "headers": headers,
                "requestContext": {
                    "accountId": "123456789012",
                    "apiId": "local",
                    "domainName": f"127.0.0.1:{listen_port}",
                    "http": {
                        "method": self.command,
                        "path": path,
                        "protocol": self.request_version,
                        "sourceIp": self.client_address[0],
                        "userAgent": self.headers.get("User-Agent", ""),
                    },
                    "requestId": request_id,
                    "routeKey": "$default",
                    "stage": "$default",
                    "timeEpoch": int(time.time() * 1000),
                },
                "isBase64Encoded": encoded,
            }
            if body:
                event["body"] = text
            invoke = urllib.request.Request(
                invoke_url, data=json.dumps(event).encode(), method="POST"
            )
            with urllib.request.urlopen(invoke, timeout=120) as answer:
                result = json.load(answer)
            payload = result.get("body") or ""
            payload = (
                base64.b64decode(payload)
                if result.get("isBase64Encoded")
                else payload.encode("utf-8")
            )
            self.send_response(int(result.get("statusCode", 502)))
            for name, value in (result.get("headers") or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any
        do_TRACE = do_QUERY = handle_any

        def log_message(self, *_):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(listen_port)), Front).serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "relay":
        asyncio.run(relay_tcp(sys.argv[2], int(sys.argv[3])))
    elif len(sys.argv) == 4 and sys.argv[1] == "front":
        http_api_front(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
