"""A deliberately broken adapter, to test how the harness copes (no library, no claims).

Usage: broken_adapter.py MODE, MODE one of:
  crash      says ready, then dies on the first job with a traceback
  hang       says ready, then never answers
  garbage    says ready, then prints a line that is not JSON
  no-ready   dies before its ready line
  unsupported  refuses, as an adapter does for a version without the API
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
    if mode == "hang":
        time.sleep(3600)
    if mode == "garbage":
        print("Traceback? no: this is not JSON", flush=True)
