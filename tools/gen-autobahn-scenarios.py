#!/usr/bin/env python3
"""Writes the scenario files that follow Autobahn|Testsuite's cases 6.4-6.23 (Markus Kuhn's
UTF-8 decoder test), 2.10/2.11, 7.1.2/7.1.3, section 9, and the cases of sections 1-7 and 10
that the hand-written scenarios only resemble (autobahn_cases), one file each.

Run from the repository root: `python3 tools/gen-autobahn-scenarios.py`. It rewrites the files
it owns (utf8/kuhn-*, utf8/fail-fast-*, control/pings-*, close/two-close-frames,
close/ping-after-close, close/server-closes-tcp-first, limits/*, and autobahn_cases' files, each
named in its call) and no other. Once the loader has parametrized families, these lists can
fold into a few family files with the same names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "scenarios"
KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")  # κόσμε, Autobahn's valid text


def kuhn_vectors() -> list[tuple[str, str, str, list[tuple[bool, bytes]]]]:
    """(Autobahn subsection, Kuhn section, slug, [(valid, bytes)]), in Autobahn's order."""
    cats: list[tuple[str, str, str, list[tuple[bool, bytes]]]] = []

    def add(kuhn: str, slug: str, vectors: list[tuple[bool, bytes]]) -> None:
        cats.append((f"6.{5 + len(cats)}", kuhn, slug, vectors))

    add(
        "1",
        "valid",
        [
            (True, b"hello\x24world"),
            (True, b"hello\xc2\xa2world"),
            (True, b"hello\xe2\x82\xacworld"),
            (True, b"hello\xf0\xa4\xad\xa2world"),
            (True, KOSME),
        ],
    )
    prefixes = []
    for i in range(1, len(KOSME) + 1):
        try:
            KOSME[:i].decode("utf-8")
            prefixes.append((True, KOSME[:i]))
        except UnicodeDecodeError:
            prefixes.append((False, KOSME[:i]))
    add("1", "valid-prefix", prefixes)
    add(
        "2.1",
        "first-possible",
        [(True, b"\x00"), (True, b"\xc2\x80"), (True, b"\xe0\xa0\x80"), (True, b"\xf0\x90\x80\x80")],
    )
    add("2.1", "first-possible-5-6-bytes", [(False, b"\xf8\x88\x80\x80\x80"), (False, b"\xfc\x84\x80\x80\x80\x80")])
    add(
        "2.2",
        "last-possible",
        [(True, b"\x7f"), (True, b"\xdf\xbf"), (True, b"\xef\xbf\xbf"), (True, b"\xf4\x8f\xbf\xbf")],
    )
    add(
        "2.2",
        "last-possible-4-5-6-bytes",
        [(False, b"\xf7\xbf\xbf\xbf"), (False, b"\xfb\xbf\xbf\xbf\xbf"), (False, b"\xfd\xbf\xbf\xbf\xbf\xbf")],
    )
    add(
        "2.3",
        "boundary",
        [
            (True, b"\xed\x9f\xbf"),
            (True, b"\xee\x80\x80"),
            (True, b"\xef\xbf\xbd"),
            (True, b"\xf4\x8f\xbf\xbf"),
            (False, b"\xf4\x90\x80\x80"),
        ],
    )
    cont = [b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf"]
    cont += [b"\x80\xbf\x80\xbf\x80", b"\x80\xbf\x80\xbf\x80\xbf", bytes(range(0x80, 0xBF))]
    add("3.1", "unexpected-continuation", [(False, c) for c in cont])
    lonely = []
    for lo, hi in [(0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7), (0xF8, 0xFB), (0xFC, 0xFD)]:
        lonely.append((False, b"".join(bytes([i, 0x20]) for i in range(lo, hi))))
    add("3.2", "lonely-start", lonely)
    missing = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80", b"\xfc\x80\x80\x80\x80"]
    missing += [b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf", b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
    add("3.3", "last-continuation-missing", [(False, m) for m in missing])
    add("3.4", "incomplete-concatenated", [(False, b"".join(missing))])
    add("3.5", "impossible-bytes", [(False, b"\xfe"), (False, b"\xff"), (False, b"\xfe\xfe\xff\xff")])
    add(
        "4.1",
        "overlong-ascii",
        [(False, bytes.fromhex(h)) for h in ("c0af", "e080af", "f08080af", "f8808080af", "fc80808080af")],
    )
    add(
        "4.2",
        "overlong-maximum",
        [(False, bytes.fromhex(h)) for h in ("c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf")],
    )
    add(
        "4.3",
        "overlong-nul",
        [(False, bytes.fromhex(h)) for h in ("c080", "e08080", "f0808080", "f880808080", "fc8080808080")],
    )
    single = ("eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf")
    add("5.1", "single-surrogate", [(False, bytes.fromhex(h)) for h in single])
    paired = ("eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf")
    paired += ("edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf")
    add("5.2", "paired-surrogates", [(False, bytes.fromhex(h)) for h in paired])
    nonchars = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
    for z1 in b"\xf0\xf1\xf2\xf3\xf4":
        for z2 in b"\x8f\x9f\xaf\xbf":
            if z1 == 0xF4 and z2 != 0x8F:
                continue
            for z3 in b"\xbe\xbf":
                zz = bytes([z1, z2, 0xBF, z3])
                if zz not in (b"\xf0\x8f\xbf\xbe", b"\xf0\x8f\xbf\xbf"):
                    nonchars.append(zz)
    add("5.3", "noncharacter", [(True, n) for n in nonchars])
    add("specials", "specials", [(True, bytes.fromhex(f"efbf{b:02x}")) for b in range(0xB9, 0xC0)])
    return cats


#: "(Autobahn 6.5.1)" or "; Autobahn 6.5.1" in a summary: the case the
#: scenario reproduces ("like Autobahn 2.11" names one it only resembles).
AUTOBAHN_CASE = re.compile(r"[(;] ?Autobahn (\d+(?:\.\d+)+)\b")


def write(name: str, doc: dict) -> None:
    path = ROOT / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, **doc}
    # the case goes in the autobahn field too, unless the scenario is one of
    # the vectors' fragmented or chopped variants (other parameters)
    case = AUTOBAHN_CASE.search(doc["summary"])
    if case and not name.endswith(("-fragmented", "-chopped")):
        at = list(doc).index("tags") + 1
        items = list(doc.items())
        doc = dict(items[:at] + [("autobahn", [case.group(1)])] + items[at:])
    lines = []
    for key, value in doc.items():
        if key == "steps":
            steps = ",\n".join(f"    {dumps(step)}" for step in value)
            lines.append(f'  "steps": [\n{steps}\n  ]')
        else:
            lines.append(f"  {dumps(key)}: {dumps(value)}")
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


INVALID_EXPECT = {
    "messages": [],
    "close": {"code": [1007, 1002, 1006, None]},
    "client_close": {"code": [1007, 1002]},
}
INVALID_SEVERITY = {"close": "non-strict", "client_close": "non-strict"}


def kuhn_scenario(ab: str, kuhn: str, valid: bool, data: bytes, how: str) -> dict:
    """One vector as one text message: whole, in frames of one byte, or cut every byte."""
    item: dict = {"text": "", "hex": data.hex()}
    group: dict = {"write": [item]}
    variant = ""
    if how == "fragmented":
        item["fragment_size"] = 1
        variant = ", in frames of one byte (fragmented inside every code point)"
    elif how == "chopped":
        group["split"] = "every_byte"
        variant = ", one frame cut into TCP writes of one byte"
    where = f"Markus Kuhn's UTF-8 decoder test {kuhn}" if kuhn != "specials" else "Unicode specials"
    what = "valid" if valid else "invalid"
    hexed = data.hex(" ") if len(data) <= 16 else data[:16].hex(" ") + f" … ({len(data)} bytes)"
    tags = ["utf8", "kuhn", "delivery" if valid else "protocol-error"]
    if how != "whole":
        tags.append("slow")  # hundreds of variants: out of the default run
    summary = (
        f"A text message holding {what} UTF-8 {hexed} ({where}; Autobahn {ab}){variant}; "
        + (
            "the application receives and echoes it, then a clean close."
            if valid
            else "the client MUST fail the connection."
        )
    )
    doc: dict = {
        "summary": summary,
        "rfc": ["6455#8.1", "3629#3"] + (["6455#5.4"] if how == "fragmented" else []),
        "tags": tags,
        "client": {"echo": True},
    }
    if valid:
        trip: dict = {"count": 1, "message": item, "timeout_ms": 1000}
        doc["steps"] = [
            {"round_trips": trip},
            {"write": [{"close": 1000}]},
            {"await": "close", "timeout_ms": 1000},
            {"shutdown": "write"},
        ]
        if how == "chopped":
            # round_trips writes whole groups: a write group carries the chopped message
            doc["steps"] = [
                group,
                {"await": "messages", "count": 1, "timeout_ms": 1000},
                *doc["steps"][1:],
            ]
            doc["expect"] = {"client_messages": [], "close": {"code": 1000}, "close_clean": True}
        else:
            doc["expect"] = {"round_trips": True, "close": {"code": 1000}, "close_clean": True}
        if b"\x00" not in data:
            doc["expect"]["messages"] = [{"text": data.decode("utf-8")}]
            if how == "chopped":
                doc["expect"]["client_messages"] = [{"text": data.decode("utf-8")}]
        elif how == "chopped":
            del doc["expect"]["client_messages"]
        doc["severity"] = "fail"
        doc["severity_by_check"] = {"close_clean": "non-strict"}
        if trip and how == "fragmented":
            # round_trips sends one frame: a fragmented message goes as a write group
            doc["steps"] = [
                group,
                {"await": "messages", "count": 1, "timeout_ms": 1000},
                *doc["steps"][1:],
            ]
            del doc["expect"]["round_trips"]
            if b"\x00" not in data:
                doc["expect"]["client_messages"] = [{"text": data.decode("utf-8")}]
    else:
        doc["steps"] = [group, {"await": "close", "timeout_ms": 1000}, {"shutdown": "write"}]
        doc["expect"] = dict(INVALID_EXPECT)
        doc["severity"] = "fail"
        doc["severity_by_check"] = dict(INVALID_SEVERITY)
    return doc


def utf8() -> None:
    for old in ROOT.glob("utf8/kuhn-*.json"):
        old.unlink()
    for ab, kuhn, slug, vectors in kuhn_vectors():
        for j, (valid, data) in enumerate(vectors, 1):
            base = f"utf8/kuhn-{kuhn}-{slug}-{j}" if kuhn != "specials" else f"utf8/kuhn-{slug}-{j}"
            write(base, kuhn_scenario(f"{ab}.{j}", kuhn, valid, data, "whole"))
            if len(data) > 1:
                write(f"{base}-fragmented", kuhn_scenario(f"{ab}.{j}", kuhn, valid, data, "fragmented"))
                write(f"{base}-chopped", kuhn_scenario(f"{ab}.{j}", kuhn, valid, data, "chopped"))


def fail_fast() -> None:
    """Autobahn 6.4.1-6.4.4: the client must fail before the rest of the message arrives."""
    bad, rest = bytes.fromhex("f4908080"), b"edited"

    def doc(ab: str, what: str, steps: list[dict]) -> dict:
        return {
            "summary": f"A text message {what}; the rest follows a second later. The client MUST "
            f"fail the connection and SHOULD do so at once, before the rest (Autobahn {ab}).",
            "rfc": ["6455#8.1", "6455#5.4"],
            "tags": ["utf8", "protocol-error", "fail-fast"],
            "client": {"echo": True},
            "steps": [*steps, {"await": "close", "timeout_ms": 1000}, {"shutdown": "write"}],
            "expect": {**INVALID_EXPECT, "fail_fast": True},
            "severity": "fail",
            "severity_by_check": {**INVALID_SEVERITY, "fail_fast": "non-strict"},
        }

    write(
        "utf8/fail-fast-fragment",
        doc(
            "6.4.1",
            "whose second fragment holds F4 90 80 80 (above U+10FFFF)",
            [
                {"write": [{"text": "", "hex": KOSME.hex(), "fin": False}]},
                {"write": [{"continuation": "", "hex": bad.hex(), "fin": False}]},
                {"delay_ms": 1000},
                {"write": [{"continuation": "", "hex": rest.hex()}], "fail_fast_mark": True},
            ],
        ),
    )
    write(
        "utf8/fail-fast-inside-code-point",
        doc(
            "6.4.2",
            "whose invalid code point F4 90 80 80 is cut between fragments after its second byte",
            [
                {"write": [{"text": "", "hex": (KOSME + bad[:1]).hex(), "fin": False}]},
                {"write": [{"continuation": "", "hex": bad[1:2].hex(), "fin": False}]},
                {"delay_ms": 1000},
                {"write": [{"continuation": "", "hex": (bad[2:] + rest).hex()}], "fail_fast_mark": True},
            ],
        ),
    )
    payload = KOSME + bad + rest
    head = bytes([0x81, len(payload)])
    write(
        "utf8/fail-fast-tcp-chunks",
        doc(
            "6.4.3",
            "in one frame whose invalid F4 90 80 80 arrives in a TCP write of its own",
            [
                {"write": [{"raw": (head + KOSME).hex()}]},
                {"write": [{"raw": bad.hex()}]},
                {"delay_ms": 1000},
                {"write": [{"raw": rest.hex()}], "fail_fast_mark": True},
            ],
        ),
    )
    write(
        "utf8/fail-fast-tcp-bytes",
        doc(
            "6.4.4",
            "in one frame cut into TCP writes so that F4 and 90 (the byte that makes it invalid) arrive alone",
            [
                {"write": [{"raw": (head + KOSME).hex()}]},
                {"write": [{"raw": "f4"}]},
                {"write": [{"raw": "90"}]},
                {"delay_ms": 1000},
                {"write": [{"raw": (bad[2:] + rest).hex()}], "fail_fast_mark": True},
            ],
        ),
    )


def control_and_close() -> None:
    # FIN at once: who closes TCP first is the close/* scenarios' question
    end = [{"write": [{"close": 1000}]}, {"await": "close", "timeout_ms": 1000}, {"shutdown": "write"}]
    for name, ab, split, what in (
        ("control/pings-ten-in-order", "Autobahn 2.10", None, "in one write"),
        ("control/pings-ten-every-byte", "Autobahn 2.11", "every_byte", "cut into TCP writes of one byte"),
        ("control/pings-ten-every-7-bytes", "like Autobahn 2.11, which writes a byte at a time", {"every": 7}, "cut into TCP writes of 7 bytes"),
    ):
        group: dict = {"write": [{"ping": "payload-{i}", "count": 10}]}
        if split:
            group["split"] = split
        write(
            name,
            {
                "summary": f"Ten pings with payloads payload-1..payload-10 {what}; every pong must "
                f"come back, each with its ping's payload, in order ({ab}).",
                "rfc": ["6455#5.5.2", "6455#5.5.3"],
                "tags": ["control", "ping"],
                "steps": [group, {"await": "pong", "count": 10, "timeout_ms": 2000}, *end],
                "expect": {"client_pongs": [{"text": "payload-{i}", "count": 10}], "close": {"code": 1000}},
                "severity": "fail",
            },
        )
    write(
        "close/two-close-frames",
        {
            "summary": "A message, then two close frames in one write (1000 'first', 1000 'second'): the "
            "client reports the first, answers once, and leaves closing TCP to the server (Autobahn 7.1.2).",
            "rfc": ["6455#5.5.1", "6455#7.1.1", "6455#7.1.5"],
            "tags": ["close"],
            "client": {"echo": True},
            "steps": [
                {"write": [{"text": "Hello World!"}]},
                {"await": "messages", "count": 1, "timeout_ms": 1000},
                {"write": [{"close": 1000, "reason": "first"}, {"close": 1000, "reason": "second"}]},
                {"await": "close", "timeout_ms": 1000},
                {"delay_ms": 300},
                {"shutdown": "write"},
            ],
            "expect": {
                "messages": [{"text": "Hello World!"}],
                "close": {"code": 1000, "reason": "first"},
                "client_close": {"code": 1000},
                "close_clean": True,
                "tcp_closed_by": "server",
            },
            "severity": "fail",
            "severity_by_check": {"tcp_closed_by": "non-strict", "close_clean": "non-strict"},
        },
    )
    write(
        "close/ping-after-close",
        {
            "summary": "A close frame and then a ping in one write: the client answers the close and "
            "ignores the ping (Autobahn 7.1.3).",
            "rfc": ["6455#5.5.1", "6455#1.4"],
            "tags": ["close", "ping"],
            "steps": [
                {"write": [{"close": 1000}, {"ping": "after close"}]},
                {"await": "close", "timeout_ms": 1000},
                {"delay_ms": 300},
                {"shutdown": "write"},
            ],
            "expect": {"close": {"code": 1000}, "client_close": {"code": 1000}, "client_pong": False, "close_clean": True},
            "severity": "fail",
            "severity_by_check": {"client_pong": "informational", "close_clean": "non-strict"},
            "waive": {
                "ping-answered": "the ping follows the server's close frame: a client may ignore "
                "what comes after it (1.4), which client_pong judges"
            },
        },
    )
    write(
        "close/server-closes-tcp-first",
        {
            "summary": "A message and a close frame; the client's close answered by nothing but the "
            "server's FIN half a second later: the client SHOULD leave closing TCP to the server.",
            "rfc": ["6455#7.1.1"],
            "tags": ["close", "tcp"],
            "steps": [
                {"write": [{"text": "bye"}, {"close": 1000}]},
                {"await": "close", "timeout_ms": 1000},
                {"delay_ms": 500},
                {"shutdown": "write"},
            ],
            "expect": {
                "messages": [{"text": "bye"}],
                "close": {"code": 1000},
                "tcp_closed_by": "server",
                "close_clean": True,
            },
            "severity": "fail",
            "severity_by_check": {"tcp_closed_by": "non-strict"},
        },
    )


KIB, MIB = 1024, 1024 * 1024


def size_name(n: int) -> str:
    return f"{n // MIB}mib" if n >= MIB else f"{n // KIB}kib" if n >= KIB else f"{n}b"


def limits() -> None:
    """Autobahn section 9: large messages, many fragments, chopped writes, 1000 round trips."""
    for old in ROOT.glob("limits/*.json"):
        old.unlink()
    echo_end = [
        {"write": [{"close": 1000}]},
        {"await": "close", "timeout_ms": 5000},
        {"shutdown": "write"},
    ]

    def echo_doc(summary: str, ab: str, kind: str, size: int, group: dict, timeout: int) -> dict:
        want = {("text" if kind == "text" else "hex"): "", "pattern": "*", "size": size}
        return {
            "summary": f"{summary}; the application echoes it (Autobahn {ab}). RFC 6455 leaves size "
            "limits to the implementation: a refusal is informational.",
            "rfc": ["6455#5.2", "6455#10.4"],
            "tags": ["limits", "large", "slow"],
            "client": {"echo": True, "recv_timeout_ms": timeout},
            "steps": [group, {"await": "messages", "count": 1, "timeout_ms": timeout}, *echo_end],
            "expect": {"messages": [want], "client_messages": [want], "close": {"code": 1000}},
            "severity": "informational",
        }

    sizes = [64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB, 16 * MIB]
    for sec, kind in (("9.1", "text"), ("9.2", "binary")):
        for j, size in enumerate(sizes, 1):
            item = {kind: "", "pattern": "*", "size": size}
            write(
                f"limits/{kind}-{size_name(size)}",
                echo_doc(f"One {kind} message of {size_name(size).upper()} in one frame", f"{sec}.{j}", kind, size, {"write": [item]}, 20000),
            )
    # 9.3.1/9.4.1 (frames of 64 bytes: 65536 frames) fit a transcript because a run of like
    # frames is one event (server/transcript.h: three events for the message); 9.5.1/9.6.1
    # (TCP writes of 64 bytes) are 32768 write and ack events, under the cap of 100000.
    frags = [64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB]
    for sec, kind in (("9.3", "text"), ("9.4", "binary")):
        for j, frag in enumerate(frags, 1):
            item = {kind: "", "pattern": "*", "size": 4 * MIB, "fragment_size": frag}
            write(
                f"limits/{kind}-4mib-fragments-{size_name(frag)}",
                echo_doc(
                    f"One {kind} message of 4 MiB in frames of {frag} bytes",
                    f"{sec}.{j}",
                    kind,
                    4 * MIB,
                    {"write": [item]},
                    # 65536 frames of 64 bytes: some libraries take seconds to reassemble them
                    60000 if frag == 64 else 20000,
                ),
            )
    chops = [64, 128, 256, 512, KIB, 2 * KIB]
    for sec, kind in (("9.5", "text"), ("9.6", "binary")):
        for j, chop in enumerate(chops, 1):
            item = {kind: "", "pattern": "*", "size": MIB}
            write(
                f"limits/{kind}-1mib-chopped-{chop}",
                echo_doc(
                    f"One {kind} message of 1 MiB in one frame, cut into TCP writes of {chop} bytes",
                    f"{sec}.{j}",
                    kind,
                    MIB,
                    {"write": [item], "split": {"every": chop}},
                    # every piece waits for its ACK: 16384 pieces of 64 bytes took 30-38 s
                    # alone, 53-58 s two jobs at a time, on two shared cores
                    120000 if chop == 64 else 60000 if chop < 512 else 20000,
                ),
            )
    for sec, kind in (("9.7", "text"), ("9.8", "binary")):
        for j, size in enumerate([0, 16, 64, 256, KIB, 4 * KIB], 1):
            message: dict = {kind: "", "pattern": "*", "size": size} if size else {kind: ""}
            write(
                f"limits/round-trips-1000-{kind}-{size_name(size)}",
                {
                    "summary": f"1000 round trips of a {size}-byte {kind} message, one after another: "
                    f"each echo must come back equal before the next message goes; the transcript "
                    f"has the round-trip times (Autobahn {sec}.{j}).",
                    "rfc": ["6455#5.6"],
                    "tags": ["limits", "round-trips", "slow"],
                    "client": {"echo": True, "max_messages": 100000, "recv_timeout_ms": 5000},
                    "steps": [
                        {"round_trips": {"count": 1000, "message": message, "timeout_ms": 2000}},
                        *echo_end,
                    ],
                    "expect": {"round_trips": True, "close": {"code": 1000}},
                    "severity": "fail",
                },
            )
    for n, size in ((1000, 16), (100, 64 * KIB)):
        item = {"text": "", "pattern": "*", "size": size, "count": n}
        want = {"text": "", "pattern": "*", "size": size, "count": n}
        write(
            f"limits/many-messages-{n}x{size_name(size)}",
            {
                "summary": f"{n} text messages of {size} bytes in one write group; every one must "
                "arrive, in order, and be echoed.",
                "rfc": ["6455#5.6", "6455#6.2"],
                "tags": ["limits", "slow"],
                "client": {"echo": True, "max_messages": n + 10, "recv_timeout_ms": 10000},
                "steps": [
                    {"write": [item]},
                    {"await": "messages", "count": n, "timeout_ms": 10000},
                    *echo_end,
                ],
                "expect": {"messages": [want], "client_messages": [want], "close": {"code": 1000}},
                # 64 KiB is past some libraries' default message limit (coder/websocket: 32 KiB)
                "severity": "fail" if size <= 16 * KIB else "informational",
            },
        )


HELLO = "Hello, world!"
MIXED = "Hello-µ@ßöäüàá-UTF-8!!"  # Autobahn 6.2.x's text


def ab_fail(
    summary: str, rfc: list[str], tags: list[str], groups: list[dict], echoed: str | None = None
) -> dict:
    """A case where the client must fail the connection (1002); `echoed` is a valid message
    ahead of the bad frame, which the application must receive (its echo is not judged)."""
    expect: dict = {
        "messages": [{"text": echoed}] if echoed else [],
        "close": {"code": [1002, 1006, None]},
        "client_close": {"code": [1002]},
    }
    by_check = {"close": "non-strict", "client_close": "non-strict"}
    # The application must get `echoed` (it came before the bad frame), but its echo races
    # with the failure: whether it leaves depends on timing, so it is not expected at all
    # (Autobahn's non-strict check made python-websockets' verdict vary from run to run).
    if any("ping" in item for group in groups for item in group.get("write", [])):
        expect["client_pong"] = (
            False  # the ping follows the bad frame: a failed connection answers nothing
        )
    doc: dict = {"summary": summary, "rfc": rfc, "tags": tags}
    if echoed:
        doc["client"] = {"echo": True}
    doc["steps"] = [*groups, {"await": "close", "timeout_ms": 1000}, {"shutdown": "write"}]
    doc["expect"] = expect
    doc["severity"] = "fail"
    doc["severity_by_check"] = by_check
    return doc


#: the end of a case Autobahn closes itself once the echo (or pong) is back: close 1000, clean
AB_END = [
    {"write": [{"close": 1000}]},
    {"await": "close", "timeout_ms": 2000},
    {"shutdown": "write"},
]


def ab_pass(
    summary: str,
    rfc: list[str],
    tags: list[str],
    groups: list[dict],
    awaits: list[dict],
    expect: dict,
    end: list[dict] | None = None,
) -> dict:
    """A case the client passes by echoing (or ponging) and answering the close that follows;
    `end` replaces AB_END where the close frame shares a write with other frames."""
    return {
        "summary": summary,
        "rfc": rfc,
        "tags": tags,
        "client": {"echo": True},
        "steps": [*groups, *awaits, *(AB_END if end is None else end)],
        "expect": {
            **expect,
            "close": {"code": 1000},
            "client_close": {"code": 1000},
            "close_clean": True,
        },
        "severity": "fail",
        "severity_by_check": {"close_clean": "non-strict"},
    }


def how_written(frames: list[dict], how: str) -> list[dict]:
    """Autobahn's three ways of writing frames: all at once, one write per frame (sync), byte by byte (chopsize 1)."""
    if how == "frames":
        return [{"write": [frame]} for frame in frames]
    if how == "bytes":
        return [{"write": frames, "split": "every_byte"}]
    return [{"write": frames}]


HOW_WORDS = {
    "one": "in one write",
    "frames": "one TCP write per frame",
    "bytes": "one TCP write per byte",
}


def autobahn_cases() -> None:
    """Cases of sections 1-7 and 10 reproduced frame for frame, write for write."""
    for ab, kind in (("1.1.8", "text"), ("1.2.8", "binary")):
        want = {("text" if kind == "text" else "hex"): "", "pattern": "*", "size": 65536}
        write(
            f"tcp/{kind}-64kib-chopped-997",
            ab_pass(
                f"One {kind} message of 65536 '*' in one frame, cut into TCP writes of 997 bytes; the "
                f"application echoes it (Autobahn {ab}).",
                ["6455#5.2", "6455#5.6"],
                ["tcp", "segmentation", "delivery"],
                [{"write": [{kind: "", "pattern": "*", "size": 65536}], "split": {"every": 997}}],
                [{"await": "messages", "count": 1, "timeout_ms": 5000}],
                {"messages": [want], "client_messages": [want]},
            ),
        )
    write(
        "control/ping-125-bytes-every-byte",
        ab_pass(
            "A ping with 125 bytes FE (the largest control payload) cut into TCP writes of one byte; "
            "the pong must carry the same 125 bytes (Autobahn 2.6).",
            ["6455#5.5", "6455#5.5.2", "6455#5.5.3"],
            ["control", "ping", "segmentation"],
            [{"write": [{"ping": "", "hex": "fe" * 125}], "split": "every_byte"}],
            [{"await": "pong", "timeout_ms": 2000}],
            {"client_pongs": [{"hex": "fe" * 125}]},
        ),
    )
    write(
        "control/unsolicited-pong-empty",
        ab_pass(
            "An unsolicited pong with no payload and a close frame in one write; the pong must be "
            "ignored and the close answered (Autobahn 2.7).",
            ["6455#5.5.3"],
            ["control", "delivery"],
            [],
            [],
            {"messages": [], "client_messages": [], "client_pong": False},
            [{"write": [{"pong": ""}, {"close": 1000}]}, *AB_END[1:]],
        ),
    )
    write(
        "control/unsolicited-pong-then-ping",
        ab_pass(
            "An unsolicited pong ('unsolicited pong payload') and a ping ('ping payload') in one write; "
            "only the ping is answered, with its payload (Autobahn 2.9).",
            ["6455#5.5.2", "6455#5.5.3"],
            ["control", "ping"],
            [{"write": [{"pong": "unsolicited pong payload"}, {"ping": "ping payload"}]}],
            [{"await": "pong", "timeout_ms": 2000}],
            {"client_pongs": [{"text": "ping payload"}]},
        ),
    )

    rfc_rsv = ["6455#5.2", "6455#7.1.7"]
    alone = [
        (
            "3.1",
            1,
            {"text": HELLO, "rsv": 1},
            "a text frame 'Hello, world!'",
            "framing/rsv-1-text-alone",
        ),
        (
            "3.5",
            5,
            {"binary": "", "hex": "00fffefdfcfb00ff", "rsv": 5},
            "a binary frame (00 ff fe fd fc fb 00 ff)",
            "framing/rsv-5-binary-alone",
        ),
        (
            "3.6",
            6,
            {"binary": HELLO, "rsv": 6},
            "a binary frame 'Hello, world!'",
            "framing/rsv-6-binary-alone",
        ),
        ("3.7", 7, {"close": None, "rsv": 7}, "an empty close frame", "framing/rsv-7-close-alone"),
    ]
    for ab, rsv, frame, what, name in alone:
        write(
            name,
            ab_fail(
                f"{what[0].upper()}{what[1:]} with RSV {rsv} (no extension negotiated), alone; the client "
                f"MUST fail the connection (Autobahn {ab}).",
                rfc_rsv,
                ["framing", "protocol-error", "rsv"],
                [{"write": [frame]}],
            ),
        )
    for ab, rsv, how in (("3.2", 2, "one"), ("3.3", 3, "frames"), ("3.4", 4, "bytes")):
        frames = [{"text": HELLO}, {"text": HELLO, "rsv": rsv}, {"ping": ""}]
        suffix = {"one": "", "frames": "-frame-writes", "bytes": "-every-byte"}[how]
        write(
            f"framing/rsv-{rsv}-text-then-ping{suffix}",
            ab_fail(
                f"A text message 'Hello, world!', the same text with RSV {rsv} (no extension negotiated) "
                f"and an empty ping, {HOW_WORDS[how]}; the client echoes the first, MUST fail the "
                f"connection and answers no ping (Autobahn {ab}).",
                rfc_rsv,
                ["framing", "protocol-error", "rsv"],
                how_written(frames, how),
                echoed=HELLO,
            ),
        )

    rfc_op = ["6455#5.2", "6455#11.8", "6455#7.1.7"]
    for sec, kind, ops in (
        ("4.1", "data", (3, 4, 5, 6, 7)),
        ("4.2", "control", (11, 12, 13, 14, 15)),
    ):
        for j, op in enumerate(ops, 1):
            ab = f"{sec}.{j}"
            payload = "reserved opcode payload" if j == 2 else HELLO if j > 3 else ""
            frame = {"text": payload, "opcode": op}
            has = f"payload '{payload}'" if payload else "no payload"
            tags = ["framing", "protocol-error", "opcode"]
            if j <= 2:
                write(
                    f"framing/reserved-opcode-{op}-alone",
                    ab_fail(
                        f"A frame with the reserved {kind} opcode {op} and {has}, alone; the client MUST "
                        f"fail the connection (Autobahn {ab}).",
                        rfc_op,
                        tags,
                        [{"write": [frame]}],
                    ),
                )
                continue
            how = "bytes" if j == 5 else "one"
            write(
                f"framing/reserved-opcode-{op}-then-ping"
                + ("-every-byte" if how == "bytes" else ""),
                ab_fail(
                    f"A text message 'Hello, world!', a frame with the reserved {kind} opcode {op} and "
                    f"{has}, and an empty ping, {HOW_WORDS[how]}; the client echoes the first, MUST fail "
                    f"the connection and answers no ping (Autobahn {ab}).",
                    rfc_op,
                    tags,
                    how_written([{"text": HELLO}, frame, {"ping": ""}], how),
                    echoed=HELLO,
                ),
            )

    write(
        "control/pong-in-two-fragments",
        ab_fail(
            "A pong in two fragments (pong 'fragment1' without FIN, continuation 'fragment2'); control "
            "frames MUST NOT be fragmented: the client MUST fail the connection (Autobahn 5.2).",
            ["6455#5.5", "6455#5.4", "6455#7.1.7"],
            ["control", "fragmentation", "protocol-error"],
            [{"write": [{"pong": "fragment1", "fin": False}, {"continuation": "fragment2"}]}],
        ),
    )
    frag_rfc = ["6455#5.4"]
    two = [{"text": "fragment1", "fin": False}, {"continuation": "fragment2"}]
    pinged = [
        {"text": "fragment1", "fin": False},
        {"ping": "ping payload"},
        {"continuation": "fragment2"},
    ]
    for ab, how in (("5.4", "frames"), ("5.5", "bytes")):
        suffix = "frame-writes" if how == "frames" else "every-byte"
        write(
            f"fragmentation/two-fragments-{suffix}",
            ab_pass(
                f"A text message in two fragments ('fragment1', 'fragment2'), {HOW_WORDS[how]}; the "
                f"application receives and echoes 'fragment1fragment2' (Autobahn {ab}).",
                frag_rfc,
                ["fragmentation", "delivery"],
                how_written(two, how),
                [{"await": "messages", "count": 1, "timeout_ms": 2000}],
                {
                    "messages": [{"text": "fragment1fragment2"}],
                    "client_messages": [{"text": "fragment1fragment2"}],
                },
            ),
        )
    for ab, how in (("5.7", "frames"), ("5.8", "bytes")):
        suffix = "frame-writes" if how == "frames" else "every-byte"
        write(
            f"fragmentation/ping-between-fragments-{suffix}",
            ab_pass(
                f"A text message in two fragments with a ping ('ping payload') between them, {HOW_WORDS[how]}; "
                f"the client answers the ping, then the application echoes 'fragment1fragment2' (Autobahn {ab}).",
                ["6455#5.4", "6455#5.5.2"],
                ["fragmentation", "control"],
                how_written(pinged, how),
                [
                    {"await": "pong", "timeout_ms": 2000},
                    {"await": "messages", "count": 1, "timeout_ms": 2000},
                ],
                {
                    "messages": [{"text": "fragment1fragment2"}],
                    "client_messages": [{"text": "fragment1fragment2"}],
                    "client_pongs": [{"text": "ping payload"}],
                },
            ),
        )
    fail_rfc = ["6455#5.4", "6455#7.1.7"]
    ftags = ["fragmentation", "protocol-error"]
    for ab, fin, how in (
        ("5.10", True, "frames"),
        ("5.11", True, "bytes"),
        ("5.12", False, "one"),
        ("5.13", False, "frames"),
        ("5.14", False, "bytes"),
    ):
        frames = [{"continuation": "non-continuation payload", "fin": fin}, {"text": HELLO}]
        base = "fragmentation/orphan-continuation" + ("" if fin else "-unfinished")
        suffix = {"one": "-one-write", "frames": "-frame-writes", "bytes": "-every-byte"}[how]
        write(
            base + suffix,
            ab_fail(
                f"A {'final' if fin else 'non-final'} continuation frame with no message to continue, "
                f"then a text message, {HOW_WORDS[how]}; the client MUST fail the connection "
                f"(Autobahn {ab}).",
                fail_rfc,
                ftags,
                how_written(frames, how),
            ),
        )
    write(
        "fragmentation/orphan-continuation-after-fragmented-message",
        ab_fail(
            "A text message in two fragments ('fragment1fragment2'), then a non-final continuation "
            "with nothing to continue and a text frame, in one write; the client echoes the message, "
            "then MUST fail the connection (Autobahn 5.15).",
            fail_rfc,
            ftags,
            [
                {
                    "write": [
                        {"text": "fragment1", "fin": False},
                        {"continuation": "fragment2"},
                        {"continuation": "fragment3", "fin": False},
                        {"text": "fragment4"},
                    ]
                }
            ],
            echoed="fragment1fragment2",
        ),
    )
    for ab, fin, name in (("5.16", False, "unfinished"), ("5.17", True, "final")):
        three = [
            {"continuation": "fragment1", "fin": fin},
            {"text": "fragment2", "fin": False},
            {"continuation": "fragment3"},
        ]
        write(
            f"fragmentation/orphan-continuation-{name}-twice",
            ab_fail(
                f"Twice in one write: a {'final' if fin else 'non-final'} continuation with nothing to "
                "continue, then a text message in two fragments; the client MUST fail the connection at "
                f"the first frame (Autobahn {ab}).",
                fail_rfc,
                ftags,
                [{"write": three + three}],
            ),
        )
    for ab, how in (("5.19", "one"), ("5.20", "frames")):
        part1 = [
            {"text": "fragment1", "fin": False},
            {"continuation": "fragment2", "fin": False},
            {"ping": "pongme 1!"},
        ]
        part2 = [
            {"continuation": "fragment3", "fin": False},
            {"continuation": "fragment4", "fin": False},
            {"ping": "pongme 2!"},
            {"continuation": "fragment5"},
        ]
        whole = "fragment1fragment2fragment3fragment4fragment5"
        write(
            "fragmentation/pings-between-five-fragments"
            + ("-frame-writes" if how == "frames" else ""),
            ab_pass(
                "A text message in five fragments: two, a ping 'pongme 1!', a pause of 1 s, two more, a "
                f"ping 'pongme 2!' and the last ({'each burst in one write' if how == 'one' else 'one TCP write per frame'}); "
                f"both pongs, in order, then the echo of the whole message (Autobahn {ab}).",
                ["6455#5.4", "6455#5.5.2"],
                ["fragmentation", "control"],
                [*how_written(part1, how), {"delay_ms": 1000}, *how_written(part2, how)],
                [
                    {"await": "pong", "count": 2, "timeout_ms": 2000},
                    {"await": "messages", "count": 1, "timeout_ms": 2000},
                ],
                {
                    "messages": [{"text": whole}],
                    "client_messages": [{"text": whole}],
                    "client_pongs": [{"text": "pongme 1!"}, {"text": "pongme 2!"}],
                },
            ),
        )

    for ab, name, frames, text, what in (
        ("6.1.2", "three-empty-fragments", ["", "", ""], "", "three empty fragments"),
        (
            "6.1.3",
            "empty-fragments-around-payload",
            ["", "middle frame payload", ""],
            "middle frame payload",
            "three fragments, only the middle one ('middle frame payload') non-empty",
        ),
    ):
        items = [
            {"text": frames[0], "fin": False},
            {"continuation": frames[1], "fin": False},
            {"continuation": frames[2]},
        ]
        write(
            f"fragmentation/{name}",
            ab_pass(
                f"A text message of {what}, in one write; the application receives and echoes "
                f"{repr(text) if text else 'an empty message'} (Autobahn {ab}).",
                frag_rfc,
                ["fragmentation", "delivery"],
                [{"write": items}],
                [{"await": "messages", "count": 1, "timeout_ms": 2000}],
                {"messages": [{"text": text}], "client_messages": [{"text": text}]},
            ),
        )
    kosme = KOSME.decode("utf-8")
    for ab, name, items, text, what in (
        ("6.2.1", "valid-multibyte-one-frame", [{"text": MIXED}], MIXED, "in one frame"),
        (
            "6.2.2",
            "valid-multibyte-two-fragments",
            [{"text": "Hello-µ@ßöä", "fin": False}, {"continuation": "üàá-UTF-8!!"}],
            MIXED,
            "in two fragments cut between code points",
        ),
        (
            "6.2.3",
            "valid-multibyte-one-byte-fragments",
            [{"text": MIXED, "fragment_size": 1}],
            MIXED,
            "in frames of one byte (cut inside its code points)",
        ),
        (
            "6.2.4",
            "kosme-one-byte-fragments",
            [{"text": kosme, "fragment_size": 1}],
            kosme,
            "in frames of one byte (cut inside its code points)",
        ),
    ):
        write(
            f"utf8/{name}",
            ab_pass(
                f"The valid UTF-8 text '{text}' {what}, in one write; the application receives and echoes "
                f"it (Autobahn {ab}).",
                ["6455#8.1", "6455#5.4"],
                ["utf8", "delivery"] if ab == "6.2.1" else ["utf8", "fragmentation", "delivery"],
                [{"write": items}],
                [{"await": "messages", "count": 1, "timeout_ms": 2000}],
                {"messages": [{"text": text}], "client_messages": [{"text": text}]},
            ),
        )
    bad = KOSME + bytes.fromhex("eda080") + b"edited"
    write(
        "utf8/invalid-surrogate-one-byte-fragments",
        {
            "summary": "A text message κόσμε ED A0 80 'edited' (a UTF-16 surrogate, invalid from its second "
            "byte) in frames of one byte, in one write; the client MUST fail the connection, with 1007 "
            "(Autobahn 6.3.2).",
            "rfc": ["6455#8.1", "6455#5.4", "3629#3"],
            "tags": ["utf8", "fragmentation", "protocol-error"],
            "client": {"echo": True},
            "steps": [
                {"write": [{"text": "", "hex": bad.hex(), "fragment_size": 1}]},
                {"await": "close", "timeout_ms": 1000},
                {"shutdown": "write"},
            ],
            "expect": dict(INVALID_EXPECT),
            "severity": "fail",
            "severity_by_check": dict(INVALID_SEVERITY),
        },
    )

    write(
        "close/echo-then-close",
        ab_pass(
            "A text message 'Hello World!'; once its echo is back, a close frame 1000: the client "
            "answers it and the close is clean (Autobahn 7.1.1).",
            ["6455#5.5.1", "6455#7.1.2"],
            ["close"],
            [{"write": [{"text": "Hello World!"}]}],
            [{"await": "messages", "count": 1, "timeout_ms": 2000}],
            {"messages": [{"text": "Hello World!"}], "client_messages": [{"text": "Hello World!"}]},
        ),
    )
    write(
        "close/code-only",
        ab_pass(
            "A close frame with code 1000 and no reason, alone; the client answers with 1000 and the "
            "close is clean (Autobahn 7.3.3).",
            ["6455#5.5.1", "6455#7.4.1"],
            ["close"],
            [],
            [],
            {"messages": [], "client_messages": []},
        ),
    )
    doc = ab_pass(
        "A text fragment 'fragment1' without FIN, a close frame 1000 and the last fragment "
        "'fragment2', in one write; the client answers the close, delivers no message and ignores "
        "what follows the close (Autobahn 7.1.5).",
        ["6455#5.5.1", "6455#5.4", "6455#1.4"],
        ["close", "fragmentation"],
        [],
        [],
        {"messages": [], "client_messages": []},
        [
            {
                "write": [
                    {"text": "fragment1", "fin": False},
                    {"close": 1000},
                    {"continuation": "fragment2"},
                ]
            },
            *AB_END[1:],
        ],
    )
    # Autobahn wants 1000 back; RFC 6455 5.5.1 has the answer only "typically" echo the code
    doc["severity_by_check"]["client_close"] = "non-strict"
    write("close/close-between-fragments-then-last", doc)
    write(
        "close/large-message-then-close-and-ping",
        {
            "summary": "A 256 KiB text message (BAsd7&jh23 repeated), a text message 'Hello World!', a close "
            "frame 1000 and an empty ping, in one write; whether the client echoes the messages before "
            "it closes is left to the implementation (Autobahn 7.1.6).",
            "rfc": ["6455#5.5.1", "6455#1.4"],
            "tags": ["close", "large"],
            "client": {"echo": True},
            "steps": [
                {
                    "write": [
                        {"text": "", "pattern": "BAsd7&jh23", "size": 256 * KIB},
                        {"text": "Hello World!"},
                        {"close": 1000},
                        {"ping": ""},
                    ]
                },
                {"await": "close", "timeout_ms": 2000},
                {"shutdown": "write"},
            ],
            "expect": {
                "messages": [
                    {"text": "", "pattern": "BAsd7&jh23", "size": 256 * KIB},
                    {"text": "Hello World!"},
                ],
                "close": {"code": 1000},
                "client_close": {"code": 1000},
            },
            "severity": "informational",
            "waive": {
                "ping-answered": "the ping follows the server's close frame: a client may ignore "
                "what comes after it (1.4)"
            },
        },
    )
    for ab, code in (("7.13.1", 5000), ("7.13.2", 65535)):
        write(
            f"close/code-{code}-alone",
            {
                "summary": f"A close frame with code {code} (outside every range of RFC 6455 7.4), alone; "
                f"what the client does is not defined by RFC 6455 (Autobahn {ab}).",
                "rfc": ["6455#7.4", "6455#7.4.2"],
                "tags": ["close", "close-codes"],
                "steps": [
                    {"write": [{"close": code}]},
                    {"await": "close", "timeout_ms": 1000},
                    {"shutdown": "write"},
                ],
                "expect": {
                    "close": {"code": [1000, code, 1002, 1006, None]},
                    "client_close": {"code": [1000, code, 1002]},
                },
                "severity": "informational",
            },
        )
    want = {"text": "", "pattern": "*", "size": 64 * KIB}
    write(
        "fragmentation/text-64kib-fragments-1300",
        ab_pass(
            "A text message of 65536 '*' in frames of 1300 bytes (Autobahn's own sender fragments it), "
            "in one write; the application receives and echoes it (Autobahn 10.1.1).",
            frag_rfc,
            ["fragmentation", "delivery"],
            [{"write": [{"text": "", "pattern": "*", "size": 64 * KIB, "fragment_size": 1300}]}],
            [{"await": "messages", "count": 1, "timeout_ms": 5000}],
            {"messages": [want], "client_messages": [want]},
        ),
    )


if __name__ == "__main__":
    utf8()
    fail_fast()
    control_and_close()
    limits()
    autobahn_cases()
