"""server/fuzz/fuzz: the documented command to fuzz for N minutes.

What runs without clang: --help, the refusal of a wrong target name (before
anything is installed or built), and the reading of libFuzzer's log that
gives the final figures (on hand-made logs in libFuzzer's format). The
fuzzing itself needs clang and minutes; server/fuzz/RESULTS.md has its figures.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from wsreplay.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "server" / "fuzz" / "fuzz"


def load_script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("fuzz_script", str(SCRIPT))
    spec = importlib.util.spec_from_loader("fuzz_script", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_script"] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


def meson_targets() -> list[str]:
    text = (REPO_ROOT / "server" / "fuzz" / "meson.build").read_text()
    return sorted(re.findall(r"'(\w+)': files\('fuzz_\w+\.c'\)", text))


def test_help_explains_the_command() -> None:
    r = run("--help")
    assert r.returncode == 0, r.stderr
    for words in ("--minutes", "--all", "--merge", "--fresh", "scratch", "exit status", "nice"):
        assert words in r.stdout, words
    # Every target meson builds is offered, and only those.
    assert meson_targets()
    assert "targets: " + ", ".join(meson_targets()) in r.stdout


def test_unknown_target_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    build = tmp_path / "build-fuzz"
    r = run("--build", str(build), "--minutes", "1", "codec", "nosuch")
    assert r.returncode == 2
    assert "unknown target nosuch" in r.stderr
    assert "the targets are " + ", ".join(meson_targets()) in r.stderr
    assert not build.exists()


def test_a_target_or_all_is_required(tmp_path: Path) -> None:
    r = run("--build", str(tmp_path / "b"))
    assert r.returncode == 2
    assert "name a target" in r.stderr
    r = run("--build", str(tmp_path / "b"), "--all", "codec")
    assert r.returncode == 2
    assert "not both" in r.stderr
    assert not (tmp_path / "b").exists()


CLEAN_LOG = """\
INFO: Running with entropic power schedule (0xFF, 100).
INFO: Loaded 1 modules   (1891 inline 8-bit counters): 1891 [0x55c55427eb60, 0x55c55427f2c3),
INFO: Loaded 1 PC tables (1891 PCs): 1891 [0x55c55427f2c8,0x55c5542868f8),
#23\tINITED cov: 300 ft: 700 corp: 22/11Kb exec/s: 0 rss: 32Mb
#1024\tNEW    cov: 310 ft: 720 corp: 23/12Kb lim: 4 exec/s: 0 rss: 33Mb L: 3/3 MS: 1 ChangeBit-
#524288\tpulse  cov: 400 ft: 950 corp: 160/80Kb lim: 1900 exec/s: 43690 rss: 400Mb
#309110\tDONE   cov: 421 ft: 981 corp: 175/83Kb lim: 1928 exec/s: 44158 rss: 494Mb
Done 309110 runs in 7 second(s)
stat::number_of_executed_units: 309110
stat::average_exec_per_sec:     44158
stat::new_units_added:          628
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              494
"""

CRASH_LOG = """\
INFO: Loaded 1 modules   (371 inline 8-bit counters): 371 [0x1, 0x2),
#2\tINITED cov: 100 ft: 200 corp: 50/4Kb exec/s: 0 rss: 30Mb
#900\tNEW    cov: 120 ft: 260 corp: 51/4Kb lim: 4 exec/s: 0 rss: 31Mb L: 3/3 MS: 1 ChangeBit-
=================================================================
==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011
    #0 0x4f in wsr_codec_decode server/codec.c:120:9
SUMMARY: AddressSanitizer: heap-buffer-overflow server/codec.c:120:9 in wsr_codec_decode
MS: 1 ChangeBit-; base unit: 0000
artifact_prefix='/tmp/s/codec/'; Test unit written to /tmp/s/codec/crash-da39a3ee
stat::number_of_executed_units: 901
stat::average_exec_per_sec:     0
stat::new_units_added:          1
"""


def test_the_figures_of_a_clean_run() -> None:
    fz = load_script()
    s = fz.parse_log("scenario", CLEAN_LOG)
    assert (s.runs, s.exec_per_sec, s.cov, s.edges, s.ft) == (309110, 44158, 421, 1891, 981)
    assert (s.corpus_units, s.corpus_bytes, s.new_units, s.peak_rss_mb) == (175, "83Kb", 628, 494)
    assert round(s.cov_percent, 1) == 22.3
    assert s.found == [] and s.errors == []
    s.seconds = 600
    table = fz.summary([s])
    assert "421 / 1,891 (22.3%)" in table
    assert "309,110" in table and "44,158" in table and "none" in table


def test_a_crash_is_named_with_its_file() -> None:
    fz = load_script()
    s = fz.parse_log("codec", CRASH_LOG)
    assert s.found == ["/tmp/s/codec/crash-da39a3ee"]
    assert s.errors == ["AddressSanitizer: heap-buffer-overflow on address 0x602000000011"]
    # The last status line before the crash gives coverage; the final stats the runs.
    assert (s.runs, s.cov, s.edges, s.ft, s.corpus_units) == (901, 120, 371, 260, 51)
    assert "/tmp/s/codec/crash-da39a3ee" in fz.summary([s])
