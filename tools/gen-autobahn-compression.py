#!/usr/bin/env python3
"""Writes the family files that follow Autobahn|Testsuite's permessage-deflate cases 12.1-12.5 and
13.1-13.6 (198 client cases) into scenarios/compression/autobahn-*.json (tagged slow: a run takes
them with --all, --tag autobahn or --tag slow, or by exact name).

    python3 tools/gen-autobahn-compression.py [--out DIR] [--only 12.1,13.3]
    ./wsreplay run --tag slow --scenario 'compression/autobahn-12.1/*' --client node-ws

These cases send 1000 messages of up to 128 KiB each. The loader does not deflate them when it
loads the catalogue (server/README.md, "Compressed items": a scenario with more than 1 MiB of
compressed messages is deflated as a session writes it); it weighs them by zlib's bound for
the stream's window instead, and deflates at load any scenario whose bound breaks a limit, to
decide on the exact sizes. So the files are cut so that every bound fits (see FILES and
group_size): with 9-bit windows (13.3, 13.5) zlib's bound is 13% over the input.

What Autobahn's fuzzing server does in these cases (autobahntestsuite/case/case12_x_x.py, read,
not copied): it accepts the client's permessage-deflate offer (13.x: with the parameters below),
then sends 1000 compressed messages of one size, each cut into frames of the auto-fragment size
(0: one frame), awaiting each echo before the next, and closes with 1000. The sizes and
auto-fragment sizes are the 18 pairs of SIZES; the content is consecutive slices of one of five
test files (12.1 JSON, 12.2 a bitmap, 12.3 German verse, 12.4 HTML, 12.5 a PDF; 13.x the JSON).

What differs here, and why:
- The messages go in one write group (in files with 64 or 128 KiB members: four groups of 250,
  a group's limit being 64 MiB, bounds included), the echoes awaited after each group:
  `round_trips`, which awaits each echo before the next message, takes no compressed item.
  Only the echoes are checked (client_messages).
- Each message is the same bytes: a pattern of the test file's kind (generated here from a fixed
  seed, of about the file's compressibility) cut to the size. Autobahn's slices differ; with
  context takeover an identical message of up to 32 KiB compresses to a few bytes after the first.
- A transcript logs a run of like frames as one event (server/transcript.h), so a case's
  1000 messages in up to 512 frames each are about 5,000 events (1.4 MB). Under the old cap of
  20000 events, one per frame, 18 of the 198 read as FAIL against node-ws 8.23.1 though the
  application received all 1000 and closed with 1000: 12.2.13-.17, 12.3.13-.16, 12.5.13-.17
  (32 KiB-128 KiB in frames of 256, 1024, 4096), 13.3.14/.15 and 13.5.14/.15 (64/128 KiB in
  frames of 256); all 18 pass now, the other 180 passed already (11 min). A family file of
  128 KiB members can take the server more than the harness's 15 s to load on a busy machine.
- The text files' messages are ASCII (Autobahn cuts data1.html by characters, not bytes).
Members are grouped into files so that a family's members together stay under the loader's
256 MiB per family as the loader weighs them (zlib's bound): a 128 KiB case weighs 148 MB at
9 bits.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

KIB = 1024
COUNT = 1000

#: Autobahn's (payload size, auto-fragment size), cases .1 to .18 of every subsection
SIZES = [
    (16, 0),
    (64, 0),
    (256, 0),
    (KIB, 0),
    (4 * KIB, 0),
    (8 * KIB, 0),
    (16 * KIB, 0),
    (32 * KIB, 0),
]
SIZES += [(64 * KIB, 0), (128 * KIB, 0)]
SIZES += [(8 * KIB, 256), (16 * KIB, 256), (32 * KIB, 256), (64 * KIB, 256), (128 * KIB, 256)]
SIZES += [(128 * KIB, KIB), (128 * KIB, 4 * KIB), (128 * KIB, 32 * KIB)]

#: which of the 18 go in which file (suffix, case numbers): each file's bounds under 256 MiB
FILES = [("", [1, 2, 3, 4, 5, 6, 7, 8]), ("-large", [9, 10])]
FILES += [("-frag-256", [11, 12, 13]), ("-large-frag-256", [14, 15])]
FILES += [("-128kib-frag-1024", [16]), ("-128kib-frag-4096", [17]), ("-128kib-frag-32768", [18])]

#: the loader's limits (server/scenario.h)
GROUP_LIMIT = 64 * KIB * KIB
FAMILY_LIMIT = 256 * KIB * KIB


def deflate_bound(n: int) -> int:
    """zlib's deflateBound below 15 bits (the larger, 13% over) plus the loader's 16 bytes."""
    return n + (n >> 3) + (n >> 8) + (n >> 9) + 4 + 16


def wire_bound(size: int, frag: int) -> int:
    """The most one message weighs in the loader: its bound, in frames of frag bytes."""
    z = deflate_bound(size)
    frames = -(-z // frag) if frag else 1
    piece = min(frag, z) if frag else z
    header = 2 if piece <= 125 else 4 if piece <= 65535 else 10
    return z + frames * header


def group_size(cases: list[int]) -> int:
    """Messages per write group: the most (1000, 500, 250...) whose bounds fit one group."""
    worst = max(wire_bound(*SIZES[k - 1]) for k in cases)
    return next(g for g in (1000, 500, 250, 200, 125, 100) if g * worst <= GROUP_LIMIT)


def size_name(n: int) -> str:
    return f"{n // KIB}kib" if n >= KIB else f"{n}b"


VERDICTS = ["OK", "OK", "OK", "NON-STRICT", "INFORMATIONAL"]


def json_text(rng: random.Random) -> str:
    """A test-report JSON object like Autobahn's data1.json in kind: repetitive (zlib ~0.05)."""
    parts = []
    for a in range(1, 4):
        for b in range(1, 4):
            for c in range(1, rng.randint(2, 6)):
                case = f"{a}.{b}.{c}"
                parts.append(
                    f'      "{case}": {{\n         "behavior": "{rng.choice(VERDICTS)}",\n'
                    f'         "behaviorClose": "OK",\n         "duration": {rng.randint(1, 40)},\n'
                    f'         "remoteCloseCode": {rng.choice([1000, 1000, 1002, 1007])},\n'
                    f'         "reportfile": "client_case_{case.replace(".", "_")}.json"\n      }}'
                )
    return '{\n   "client/1.0": {\n' + ",\n".join(parts) + "\n   }\n}\n"


def html_text(rng: random.Random) -> str:
    """An HTML report table like data1.html in kind: markup-heavy text (zlib ~0.1-0.15)."""
    rows = []
    for n in range(40):
        case = f"{rng.randint(1, 13)}.{rng.randint(1, 8)}.{rng.randint(1, 20)}"
        ok = rng.choice(["case_ok", "case_ok", "case_non_strict", "case_failed"])
        rows.append(
            f'<tr><td class="case_id"><a href="#case_{n}">Case {case}</a></td>'
            f'<td class="{ok}"><a href="client_case_{case.replace(".", "_")}.html">'
            f"{ok[5:].upper()}</a>"
            f'<br/><span class="case_duration">{rng.randint(1, 900)} ms</span></td>'
            f'<td class="close_ok">{rng.choice([1000, 1002, 1007])}</td></tr>'
        )
    head = '<!DOCTYPE html>\n<html>\n   <head>\n      <meta charset="utf-8" />\n   </head>\n'
    head += "   <body>\n<table>\n"
    return head + "\n".join(rows) + "\n</table>\n   </body>\n</html>\n"


def verse(rng: random.Random) -> str:
    """German-like verse from a small vocabulary (umlauts as UTF-8): plain prose (zlib ~0.4)."""
    words = [
        "und",
        "der",
        "die",
        "das",
        "ich",
        "nicht",
        "zu",
        "sich",
        "mit",
        "ein",
        "ist",
        "mir",
        "du",
        "so",
        "es",
        "auf",
        "wie",
        "dem",
        "doch",
        "was",
        "mich",
        "den",
        "Herz",
        "Geist",
        "Welt",
        "Nacht",
        "Himmel",
        "Erde",
        "Teufel",
        "Mensch",
        "Seele",
        "Glück",
        "Gefühl",
        "Natur",
        "Leben",
        "Kraft",
        "schön",
        "süß",
        "hör'",
        "möcht'",
        "Menschen",
        "Gestalten",
        "Träume",
        "Flammen",
        "Sterne",
        "wandeln",
        "schweben",
        "sehnen",
        "Wissen",
        "Trieb",
        "Tränen",
        "Faust",
        "Mephistopheles",
        "Gretchen",
        "Wagner",
        "Schüler",
        "Geister",
        "ewig",
        "weit",
        "hoch",
    ]
    lines: list[str] = []
    while sum(len(x.encode()) + 1 for x in lines) < 33000:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 9)))
        lines.append(line[0].upper() + line[1:] + rng.choice([",", ";", ".", "!", "?", ""]))
    return "\n".join(lines) + "\n"


def noise(rng: random.Random, smooth: bool) -> str:
    """33000 printable bytes (a JSON string, one byte each), more than a 32 KiB window so that a
    message repeats nothing within itself: uniform (a PDF's streams, zlib ~0.84) or a random walk
    (a grey-level bitmap's rows)."""
    out, x = [], 80
    for _ in range(33000):
        if smooth:
            x = min(126, max(32, x + rng.randint(-12, 12)))
            out.append(chr(x))
        else:
            out.append(chr(rng.randint(32, 126)))
    # no braces: "{name}" is a family placeholder, "{i}" a copy's index
    return "".join(out).replace("{", "(").replace("}", ")")


#: subsection: (test data, text?, pattern maker, what it stands for)
DATA = {
    "json": (True, lambda r: json_text(r), "JSON text (a test report, like Autobahn's data1.json)"),
    "bitmap": (
        False,
        lambda r: noise(r, True),
        "bitmap-like bytes (a random walk, like Autobahn's lena512.bmp)",
    ),
    "verse": (
        False,
        lambda r: verse(r),
        "German verse as binary (like Autobahn's Faust I, pg2229.txt)",
    ),
    "html": (
        True,
        lambda r: html_text(r),
        "HTML text (a report table, like Autobahn's data1.html)",
    ),
    "pdf": (
        False,
        lambda r: noise(r, False),
        "poorly compressible bytes (like the streams of Autobahn's PDF)",
    ),
}


#: 13.x: (client knob's offer, the server's answer, in words). Autobahn's server (accept1-6 in
#: case12_x_x.py) answers the server-side parameters the client asked for and adds the client-side
#: ones of the subsection, which it asks only of an offer that has them; the offer is the one
#: Autobahn's own client makes in the subsection (its default offer has client_no_context_takeover
#: and client_max_window_bits), so that both directions run with the subsection's parameters.
def _answers() -> dict[int, tuple[object, object, str]]:
    out: dict[int, tuple[object, object, str]] = {1: ("on", "accept", "the offer accepted as made")}
    for j, nct, bits in ((2, True, 0), (3, False, 9), (4, False, 15), (5, True, 9), (6, True, 15)):
        offer: dict = {"server_no_context_takeover": nct}
        answer: dict = {}
        said = []
        if nct:
            answer = {"server_no_context_takeover": True, "client_no_context_takeover": True}
            offer["client_no_context_takeover"] = True
            said.append("no context takeover both ways")
        if bits:
            offer["server_max_window_bits"] = bits
            offer["client_max_window_bits"] = True
            answer["server_max_window_bits"] = bits
            answer["client_max_window_bits"] = bits
            said.append(f"{bits}-bit windows both ways")
        out[j] = (offer, answer, "an offer answered with " + " and ".join(said))
    return out


ANSWERS = _answers()


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def groups_words(group: int) -> str:
    if group == COUNT:
        return "in one write group"
    return f"in {COUNT // group} write groups of {group}"


def family(
    name: str, sub: str, data: str, offer: object, answer: object, how: str, cases: list[int]
) -> dict:
    text, make, what = DATA[data]
    pattern = make(random.Random(f"autobahn-{data}"))
    kind = "text" if text else "binary"
    members = []
    for k in cases:
        size, frag = SIZES[k - 1]
        mid = size_name(size) + (f"-frag-{frag}" if frag else "")
        vars_ = {"size": size, "frag": frag} if frag else {"size": size}
        cut = f", each in frames of {frag} bytes" if frag else ""
        member: dict = {"id": mid, "vars": vars_, "autobahn": [f"{sub}.{k}"]}
        member["summary"] = (
            f"{how}; the server sends 1000 compressed {kind} messages of {size} bytes of "
            f"{what}{cut}, {groups_words(group_size(cases))}"
            ", and the application "
            f"echoes each, as sent (Autobahn {sub}.{k})."
        )
        members.append(member)
    group = group_size(cases)
    assert sum(COUNT * wire_bound(*SIZES[k - 1]) for k in cases) <= FAMILY_LIMIT, name
    item = {kind: "", "pattern": pattern, "size": "{size}", "count": group, "compress": True}
    if SIZES[cases[0] - 1][1]:
        item["fragment_size"] = "{frag}"  # a file's members are all fragmented or none
    want = {("text" if text else "hex"): "", "pattern": pattern, "size": "{size}", "count": COUNT}
    return {
        "name": name,
        "summary": "see the members",
        "rfc": ["7692#7.2.1", "7692#7.2.2", "7692#7.1"],
        "tags": ["compression", "delivery", "autobahn", "slow"],
        "family": {"members": members},
        "deflate": answer,
        "client": {
            "compression": offer,
            "echo": True,
            "max_messages": COUNT + 10,
            "recv_timeout_ms": 60000,
        },
        "steps": steps(item, group),
        "expect": {"deflate": True, "client_messages": [want], "close": {"code": 1000}},
        "severity": "fail",
    }


def steps(item: dict, group: int) -> list[dict]:
    out: list[dict] = []
    for n in range(group, COUNT + 1, group):
        out += [{"write": [item]}, {"await": "messages", "count": n, "timeout_ms": 120000}]
    end: list[dict] = [{"write": [{"close": 1000}]}, {"await": "close", "timeout_ms": 10000}]
    return [*out, *end, {"shutdown": "write"}]


def write(root: Path, doc: dict) -> None:
    path = root / f"{doc['name']}.json"
    lines = []
    for key, value in doc.items():
        if key == "family":
            members = ",\n".join(f"    {dumps(m)}" for m in value["members"])
            lines.append(f'  "family": {{"members": [\n{members}\n  ]}}')
        elif key == "steps":
            lines.append('  "steps": [\n' + ",\n".join(f"    {dumps(s)}" for s in value) + "\n  ]")
        else:
            lines.append(f"  {dumps(key)}: {dumps(value)}")
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "scenarios",
        help="a scenario folder (it gets compression/; default: the catalogue's)",
    )
    ap.add_argument("--only", default="", help="subsections, e.g. 12.1,13.3 (default: all eleven)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    (args.out / "compression").mkdir(parents=True, exist_ok=True)
    subs: list[tuple[str, str, object, object, str]] = [
        (f"12.{j}", data, "on", "accept", "The offer accepted as made")
        for j, data in enumerate(DATA, 1)
    ]
    for j, (offer, answer, how) in ANSWERS.items():
        subs.append((f"13.{j}", "json", offer, answer, how[0].upper() + how[1:]))
    for sub, data, offer, answer, how in subs:
        if only and sub not in only:
            continue
        for suffix, cases in FILES:
            write(
                args.out,
                family(f"compression/autobahn-{sub}{suffix}", sub, data, offer, answer, how, cases),
            )


if __name__ == "__main__":
    main()
