"""A deliberately broken adapter, to test how the harness copes (no library, no claims).

Usage: broken_adapter.py MODE, MODE one of:
  crash      says ready, then dies on the first job with a traceback
  hang       says ready, then never answers
  garbage    says ready, then prints a line that is not JSON
  no-ready   dies before its ready line
  unsupported  refuses, as an adapter does for a version without the API
  go-panic-library  dies on the first job with a Go-style panic report whose
             stack runs through github.com/gorilla/websocket (a stand-in for a
             library that kills the process; it makes no claim about gorilla)
  go-panic-adapter  the same report with only the adapter's own frames
"""

import json
import sys
import time

mode = sys.argv[1]
if mode == "no-ready":
    print("cannot import the library under test", file=sys.stderr)
    sys.exit(1)
if mode == "unsupported":
    print(
        json.dumps(
            {
                "event": "unsupported",
                "adapter": "broken",
                "version": "0",
                "reason": "version 0 has no such API",
            }
        ),
        flush=True,
    )
    sys.exit(3)
print(
    json.dumps({"event": "ready", "adapter": "broken", "library": "none", "version": "0"}),
    flush=True,
)
for line in sys.stdin:
    job = json.loads(line)
    print(f"broken adapter got job {job['id']} in mode {mode}", file=sys.stderr, flush=True)
    if mode == "crash":
        raise RuntimeError("deliberate crash in the broken adapter")
    if mode.startswith("go-panic"):
        frame = (
            "github.com/gorilla/websocket.(*Conn).NextReader(0xc000120000)"
            if mode == "go-panic-library"
            else "main.receive(0xc000120000)"
        )
        print(
            "panic: runtime error: index out of range [3] with length 3\n\n"
            f"goroutine 7 [running]:\n{frame}\n\t/src/x.go:10 +0x1d\n"
            "main.main()\n\t/src/main.go:5 +0x25\nexit status 2",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(2)
    if mode == "hang":
        time.sleep(3600)
    if mode == "garbage":
        print("Traceback? no: this is not JSON", flush=True)
