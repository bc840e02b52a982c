"""Run tags name a job on the server: valid run ids, short enough, unique per spec."""

from __future__ import annotations

import re

from wsreplay.running.adapterproc import SAFE_NAME_MAX, safe_name
from wsreplay.running.runner import job_tag, new_run_id

# what wsreplay-server accepts: a letter or digit first (no ".x" or "-x" files)
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,126}")


def test_long_path_specs_give_valid_short_unique_tags() -> None:
    long_a = "rust-tungstenite@path:/tmp/" + "deep/" * 40 + "tungstenite-rs"
    long_b = long_a + "-fork"
    tags = [f"{new_run_id()}-{safe_name(spec)}-123" for spec in (long_a, long_b)]
    for tag in tags:
        assert RUN_ID.fullmatch(tag), tag
    assert tags[0].split("-", 3)[-1] != tags[1].split("-", 3)[-1]
    assert len(safe_name(long_a)) == SAFE_NAME_MAX


def test_short_specs_stay_readable() -> None:
    assert safe_name("python-websockets@14.0") == "python-websockets_14.0"


def test_an_out_folder_of_any_name_gives_valid_tags() -> None:
    """--out names the run; "@" or a space in it once made every job's
    connection refused (the server takes only safe run ids)."""
    folders = ["node-ws@8.23.1-jobs-1", "my run", "r\u00e9sultats", "x" * 200]
    # a first character the server refuses, or one safe_name turns into "_"
    folders += [".x", "-x", "_x", "..", ".", "", "@x", " x", "\u00e9t\u00e9", "." * 200]
    for folder in folders:
        tag = job_tag(folder, "node-ws@8.23.1", 7)
        assert RUN_ID.fullmatch(tag), (folder, tag)
    assert job_tag("-x", "c", 1) != job_tag("x", "c", 1)
