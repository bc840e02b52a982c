"""A client driver in the way Autobahn|Testsuite's are written, on python-websockets.

For each URL given: connect, send every message back as received (text as
text, binary as binary), until the server closes; then the next URL. The
library's own defaults everywhere (as the python-websockets adapter uses
them), so the two runs differ only in who watches: here the server alone.
Run with the python of a venv that holds websockets (14 or later).
"""

import asyncio
import sys

from websockets import connect


async def run_case(url: str) -> None:
    try:
        async with connect(url, open_timeout=5) as ws:
            async for message in ws:
                await ws.send(message)
    except Exception as exc:  # a case that fails ends the case, never the driver
        print(f"{url}: {type(exc).__name__}: {exc}", file=sys.stderr)


async def main(urls: list[str]) -> None:
    for url in urls:
        await run_case(url)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
