"""An Autobahn|Testsuite client driver for websockets (asyncio client).

Written the way websockets' own compliance/ driver is: ask the fuzzing
server for the case count, run every case (echo each message back until the
server closes), then ask it to write the reports. The only change from a
driver aimed at Autobahn is where SERVER comes from: wsreplay's tests set
WSREPLAY_AUTOBAHN_URL; left unset it is Autobahn's usual address.
"""

import asyncio
import logging
import os

import websockets
from websockets.exceptions import WebSocketException

try:  # websockets >= 13
    from websockets.asyncio.client import connect
except ImportError:  # the legacy client, for older releases
    from websockets import connect

logging.basicConfig(level=logging.WARNING)

SERVER = os.environ.get("WSREPLAY_AUTOBAHN_URL", "ws://127.0.0.1:9001")
AGENT = os.environ.get("WSREPLAY_AUTOBAHN_AGENT", f"websockets-{websockets.__version__}")


async def get_case_count():
    async with connect(f"{SERVER}/getCaseCount") as ws:
        return int(await ws.recv())


async def run_case(case):
    async with connect(f"{SERVER}/runCase?case={case}&agent={AGENT}", max_size=2**25) as ws:
        try:
            async for message in ws:
                await ws.send(message)
        except WebSocketException:
            pass


async def update_reports():
    async with connect(f"{SERVER}/updateReports?agent={AGENT}", open_timeout=60):
        pass


async def main():
    count = await get_case_count()
    for case in range(1, count + 1):
        print(f"Running test case {case:03d} / {count}... ", end="", flush=True)
        try:
            await run_case(case)
        except WebSocketException as exc:
            print(f"ERROR: {type(exc).__name__}: {exc}")
        except Exception as exc:
            print(f"FAIL: {type(exc).__name__}: {exc}")
        else:
            print("OK")
    print(f"Ran {count} test cases")
    await update_reports()
    print("Updated reports")


if __name__ == "__main__":
    asyncio.run(main())
