"""Relays TCP connections from LISTEN_HOST:PORT to 127.0.0.1:PORT, until stopped.

Usage: relay.py LISTEN_HOST PORT

A function in a `sam local` container reaches the host at `host.docker.internal`, which Docker
on Linux maps to the bridge's gateway address; a local DynamoDB listening on 127.0.0.1 only (as
`make run`'s does, so that the network never sees it) is not there. This relay is, for as long as
the SAM command runs, and only on the bridge: the containers and the host reach it, nothing else.
"""

import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(host, port):
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


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
