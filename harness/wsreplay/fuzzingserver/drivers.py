"""The Autobahn client drivers in harness/autobahn-drivers/: how to install and run each.

Three drivers, written the way library repositories write theirs (ask
``/getCaseCount``, run ``/runCase?case=N&agent=A`` for every case echoing
each message, then ``/updateReports?agent=A``), each against a real library
installed from its registry through the harness's own installers and caches
(`installers.installer_for`): a venv with websockets, an npm prefix with ws,
a Go module built against gorilla/websocket. A driver is described to its
installer as an adapter would be (an `AdapterInfo` whose entry is the
driver's file), so it shares the adapters' cached installs: the venv and the
npm prefix of a release are the very ones its adapter runs in; a Go driver
is a binary of its own (its own sources), built with the same module cache.

- `driver_command(name, version)`: the argv and the variables to add to the
  environment to run one driver (installing it first when needed).
- `agent_name(name, version)`: the agent a driver calls itself by default.
- `compare_reports(driver_report, adapter_report)`: scenario by scenario,
  where the driver's verdicts (the mode's report.json) differ from what the
  same library gets through its wsreplay adapter (`wsreplay run`'s
  report.json); `format_differences` words them for a person.

``python3 -m wsreplay.fuzzingserver.drivers command NAME[@VERSION]`` prints
the command (for a shell, or `wsreplay fuzzingserver -- ...`);
``... compare DRIVER_REPORT ADAPTER_REPORT`` lists the differences, and
``... crosscheck NAME[@VERSION] --out DIR [--spec FILE]`` does both runs
first (`crosscheck`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import installers
from ..adapters import AdapterInfo
from ..judging.verdicts import rank
from ..paths import DATA_ROOT, INSTALLED, PACKAGE_DIR

#: harness/autobahn-drivers/ (or the installed package's copy).
DRIVERS_DIR = (DATA_ROOT if INSTALLED else DATA_ROOT / "harness") / "autobahn-drivers"
#: The one override every driver honours: the fuzzing server's address
#: (`wsreplay fuzzingserver` sets it for the driver command it runs).
URL_ENV = "WSREPLAY_AUTOBAHN_URL"
#: The agent name a driver reports as, instead of its library name + version.
AGENT_ENV = "WSREPLAY_AUTOBAHN_AGENT"
#: Where a driver connects when URL_ENV is not set: Autobahn's usual address.
DEFAULT_URL = "ws://127.0.0.1:9001"
#: How the mode's report.json words a scenario it cannot judge from the wire
#: (recorded as informational, nothing played).
SKIPPED_REASON = "not judged in the Autobahn-compatible mode"


@dataclass(frozen=True)
class Driver:
    """One driver: its library (as its adapter names it), its file, its default agent.

    ``agent_prefix`` + the resolved version is the agent the driver names
    itself by default (the Go driver reads the version from its build, so it
    keeps Go's ``v``). ``adapter`` is the wsreplay adapter that drives the same
    library through the same API, for `compare_reports`.
    """

    name: str
    language: str
    package: str
    entry: str
    agent_prefix: str
    adapter: str
    summary: str
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return DRIVERS_DIR / self.name

    def info(self) -> AdapterInfo:
        """The driver as its language's installer reads an adapter."""
        return AdapterInfo(
            name=f"autobahn-{self.name}",
            language=self.language,
            package=self.package,
            summary=self.summary,
            directory=self.directory,
            entry=self.directory / self.entry,
            extra=dict(self.extra),
        )


DRIVERS: dict[str, Driver] = {
    d.name: d
    for d in (
        Driver(
            name="python-websockets",
            language="python",
            package="websockets",
            entry="client.py",
            agent_prefix="websockets-",
            adapter="python-websockets-asyncio",
            summary="websockets.asyncio.client.connect, `async for m in ws: await ws.send(m)`",
        ),
        Driver(
            name="node-ws",
            language="node",
            package="ws",
            entry="client.js",
            agent_prefix="ws-",
            adapter="node-ws",
            summary="new WebSocket(url), ws.send(data, {binary: isBinary}) on every 'message'",
        ),
        Driver(
            name="go-gorilla",
            language="go",
            package="github.com/gorilla/websocket",
            entry="main.go",
            agent_prefix="gorilla-websocket-",
            adapter="go-gorilla",
            summary="websocket.DefaultDialer.Dial, a ReadMessage/WriteMessage loop",
            # a driver is a program of its own: no adapter contract built in
            extra={"go_common": False},
        ),
    )
}


class DriverError(LookupError):
    """No such driver."""


def driver(name: str) -> Driver:
    try:
        return DRIVERS[name]
    except KeyError:
        known = ", ".join(sorted(DRIVERS))
        raise DriverError(f"no Autobahn driver {name!r} (known: {known})") from None


def _installer(d: Driver) -> installers.Installer:
    found = installers.installer_for(d.language)
    if found is None:  # pragma: no cover - every driver's language has one
        raise DriverError(f"no installer for {d.language}")
    return found


def resolve(name: str, version: str | None = None) -> str:
    """The exact release a request names (None: the newest one that runs here)."""
    d = driver(name)
    return _installer(d).resolve(d.info(), version)


def agent_name(name: str, version: str) -> str:
    """The agent the driver calls itself when `AGENT_ENV` is unset (``websockets-16.0``)."""
    d = driver(name)
    return d.agent_prefix + version


def adapter_spec(name: str, version: str) -> str:
    """The client spec of the wsreplay adapter for the same library and version."""
    return f"{driver(name).adapter}@{version}"


def _no_log(message: str) -> None:
    del message


def driver_command(
    name: str,
    version: str | None = None,
    *,
    url: str | None = None,
    agent: str | None = None,
    log: Callable[[str], None] = _no_log,
) -> tuple[list[str], dict[str, str]]:
    """(argv, variables to add to the environment) to run driver ``name`` against ``version``.

    Installs the release first when the cache lacks it (the same venv, npm
    prefix or Go module cache its adapter uses). ``url`` and ``agent`` set
    the driver's two variables; left None the driver uses its defaults
    (`DEFAULT_URL`, `agent_name`), unless the caller's environment sets them.
    """
    d = driver(name)
    installer = _installer(d)
    info = d.info()
    exact = installer.resolve(info, version)
    launch = installer.ensure(info, exact, log)
    env = dict(launch.env)
    if url is not None:
        env[URL_ENV] = url
    if agent is not None:
        env[AGENT_ENV] = agent
    return list(launch.argv), env


# --------------------------------------------------------------------------
# the driver's verdicts against the adapter's


@dataclass(frozen=True)
class Difference:
    """One scenario whose verdict differs between the driver and the adapter run.

    ``kind``: "driver stricter" (the driver's verdict is worse), "adapter
    stricter", "skipped by the mode" (the mode played nothing: the scenario
    cannot be judged from the wire; listed whatever the adapter got), "only
    driver" (the adapter run has no record of it), "only adapter" (not in
    the mode's selection).
    """

    scenario: str
    kind: str
    driver_verdict: str | None
    driver_reason: str | None
    adapter_verdict: str | None
    adapter_reason: str | None


@dataclass(frozen=True)
class Comparison:
    driver_client: str
    adapter_client: str
    same: int
    differences: list[Difference]

    def counts(self) -> Counter[str]:
        return Counter(d.kind for d in self.differences)


def _records(report: Mapping, client: str | None, label: str) -> tuple[str, dict[str, dict]]:
    results = [r for r in report.get("results", []) if isinstance(r, dict)]
    clients = list(dict.fromkeys(str(r.get("client")) for r in results))
    if client is None:
        if len(clients) > 1:
            raise ValueError(f"the {label} report holds several clients ({', '.join(clients)})")
        client = clients[0] if clients else "(none)"
    return client, {r["scenario"]: r for r in results if r.get("client") == client}


def compare_reports(
    driver_report: Mapping,
    adapter_report: Mapping,
    *,
    driver_client: str | None = None,
    adapter_client: str | None = None,
    only_driver_scenarios: bool = True,
) -> Comparison:
    """Scenario by scenario, where the two reports' verdicts differ.

    Reasons are not compared: in the mode they come from the wire only, so
    they are worded differently even where the verdict agrees. With
    ``only_driver_scenarios`` (the default) a scenario the driver's report
    has no record of is left out, since an adapter run usually covers more
    of the catalogue than the mode's selection.
    """
    dname, driven = _records(driver_report, driver_client, "driver")
    aname, adapted = _records(adapter_report, adapter_client, "adapter")
    names = list(driven) if only_driver_scenarios else list(dict.fromkeys([*driven, *adapted]))
    same = 0
    out: list[Difference] = []
    for scenario in names:
        dr, ar = driven.get(scenario), adapted.get(scenario)
        skipped = dr is not None and str(dr.get("reason", "")).startswith(SKIPPED_REASON)
        if dr is not None and ar is not None and dr["verdict"] == ar["verdict"] and not skipped:
            same += 1
            continue
        if skipped:
            kind = "skipped by the mode"
        elif dr is None:
            kind = "only adapter"
        elif ar is None:
            kind = "only driver"
        elif rank(dr["verdict"]) > rank(ar["verdict"]):
            kind = "driver stricter"
        else:
            kind = "adapter stricter"
        out.append(
            Difference(
                scenario=scenario,
                kind=kind,
                driver_verdict=None if dr is None else dr["verdict"],
                driver_reason=None if dr is None else dr.get("reason"),
                adapter_verdict=None if ar is None else ar["verdict"],
                adapter_reason=None if ar is None else ar.get("reason"),
            )
        )
    return Comparison(dname, aname, same, out)


def group_key(difference: Difference) -> str:
    """What a difference is, in a few words: the two verdicts, or why the mode skipped it.

    ``error vs pass``; for a skipped scenario the mode's reason up to its
    first parenthesis or colon (``it needs the application's read timing``).
    """
    d = difference
    if d.kind == "skipped by the mode":
        why = (d.driver_reason or "")[len(SKIPPED_REASON) :].lstrip(": ")
        return re.split(r" \(|: ", why, maxsplit=1)[0] or "(no reason)"
    return f"{d.driver_verdict or '-'} vs {d.adapter_verdict or '-'}"


def format_differences(comparison: Comparison) -> str:
    """A summary by kind and group (`group_key`), then every difference with both
    verdicts and reasons."""
    c = comparison
    total = c.same + len(c.differences)
    lines = [
        f"driver {c.driver_client} vs adapter {c.adapter_client}: "
        f"{total} scenarios, {c.same} same verdict, {len(c.differences)} different"
    ]
    groups = Counter((d.kind, group_key(d)) for d in c.differences)
    for kind, n in sorted(c.counts().items()):
        lines.append(f"  {kind}: {n}")
        for (gkind, key), count in sorted(groups.items(), key=lambda kv: -kv[1]):
            if gkind == kind:
                lines.append(f"    {count:4d}  {key}")
    for d in sorted(c.differences, key=lambda d: (d.kind, d.scenario)):
        lines.append(f"[{d.kind}] {d.scenario}")
        lines.append(f"    driver:  {d.driver_verdict or '-'}: {d.driver_reason or '-'}")
        lines.append(f"    adapter: {d.adapter_verdict or '-'}: {d.adapter_reason or '-'}")
    return "\n".join(lines)


def _wsreplay() -> tuple[list[str], dict[str, str]]:
    """How to run this harness's own CLI in a child process."""
    env = dict(os.environ)
    harness = str(PACKAGE_DIR.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (harness, env.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", "wsreplay"], env


def _run_logged(argv: list[str], env: Mapping[str, str], log_path: Path, timeout: float) -> int:
    with log_path.open("w", encoding="utf-8") as out:
        proc = subprocess.run(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return proc.returncode


@dataclass(frozen=True)
class Crosscheck:
    """One driver run through the mode and its adapter through `wsreplay run`."""

    driver: str
    version: str
    agent: str
    driver_report: dict
    adapter_report: dict
    comparison: Comparison
    out: Path


def crosscheck(
    name: str,
    version: str | None = None,
    *,
    out: Path,
    spec: Path | None = None,
    timeout: float = 3600.0,
    adapter_report: Path | None = None,
    log: Callable[[str], None] = _no_log,
) -> Crosscheck:
    """Run driver ``name`` unchanged through `wsreplay fuzzingserver`, then the same
    library and version through its adapter over the scenarios the mode judged,
    and compare the two reports scenario by scenario.

    ``out`` gets ``driver/`` (the mode's reports and the driver's log),
    ``adapter/`` (`wsreplay run`'s report), ``differences.txt`` (every
    difference, both verdicts and reasons) and ``differences.json``.
    ``adapter_report``: an existing `wsreplay run` report of the adapter to
    compare with instead of running it (a scenario it lacks is listed as
    "only driver"). Raises `RuntimeError` when either run leaves no report
    (a bad spec, a broken install), with the tail of its log.
    """
    exact = resolve(name, version)
    agent = agent_name(name, exact)
    # the mode listens on a free port and tells the driver in URL_ENV
    argv, env = driver_command(name, exact, log=log)
    out.mkdir(parents=True, exist_ok=True)
    mode_dir, adapter_dir = out / "driver", out / "adapter"
    wsreplay, wsreplay_env = _wsreplay()
    mode = [*wsreplay, "fuzzingserver", "--port", "0", "--out", str(mode_dir)]
    if spec is not None:
        mode += ["--spec", str(spec)]
    assigns = [f"{k}={v}" for k, v in sorted(env.items())]
    mode += ["--", "env", *assigns, *argv]
    log(f"{name}@{exact}: the driver through the mode: {shlex.join(mode)}")
    _run_logged(mode, wsreplay_env, out / "mode.log", timeout)
    driver_report = _report(mode_dir / "report.json", out / "mode.log")
    scenarios = sorted({str(r["scenario"]) for r in driver_report.get("results", [])})
    spec_text = adapter_spec(name, exact)
    if adapter_report is None:
        run = [*wsreplay, "run", "--client", spec_text, "--out", str(adapter_dir)]
        for scenario in scenarios:
            run += ["--scenario", scenario]
        log(f"{name}@{exact}: the adapter {spec_text} over the same {len(scenarios)} scenarios")
        _run_logged(run, wsreplay_env, out / "adapter.log", timeout)
        adapter_path = adapter_dir / "report.json"
    else:
        adapter_path = adapter_report / "report.json" if adapter_report.is_dir() else adapter_report
    adapter = _report(adapter_path, out / "adapter.log")
    comparison = compare_reports(driver_report, adapter, adapter_client=spec_text)
    (out / "differences.txt").write_text(format_differences(comparison) + "\n", encoding="utf-8")
    data = {
        "driver": name,
        "version": exact,
        "driver_client": comparison.driver_client,
        "adapter_client": comparison.adapter_client,
        "same": comparison.same,
        "counts": dict(comparison.counts()),
        "differences": [asdict(d) for d in comparison.differences],
    }
    (out / "differences.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return Crosscheck(name, exact, agent, driver_report, adapter, comparison, out)


def _report(path: Path, log_path: Path) -> dict:
    try:
        return _load(str(path))
    except (OSError, ValueError) as exc:
        text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        tail = "\n".join(text.strip().splitlines()[-20:])
        raise RuntimeError(f"no report at {path} ({exc}); {log_path}:\n{tail}") from None


def _load(path: str) -> dict:
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{p}: not a report")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m wsreplay.fuzzingserver.drivers",
        description="The Autobahn client drivers of harness/autobahn-drivers/.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("command", help="install a driver and print how to run it")
    cmd.add_argument("driver", help="NAME[@VERSION], NAME one of " + ", ".join(DRIVERS))
    cmd.add_argument("--url", help=f"set {URL_ENV} (default: the driver's, {DEFAULT_URL})")
    chk = sub.add_parser(
        "crosscheck",
        help="run a driver through `wsreplay fuzzingserver`, its adapter through "
        "`wsreplay run`, and list where their verdicts differ",
    )
    chk.add_argument("driver", help="NAME[@VERSION]")
    chk.add_argument("--out", required=True, type=Path, help="folder for both runs and the list")
    chk.add_argument("--spec", type=Path, help="the fuzzingserver spec (default: the mode's)")
    chk.add_argument(
        "--adapter-report",
        type=Path,
        help="compare with this `wsreplay run` report of the adapter instead of running it",
    )
    cmp = sub.add_parser("compare", help="the driver's verdicts against the adapter's")
    cmp.add_argument("driver_report", help="the mode's report.json (or its folder)")
    cmp.add_argument("adapter_report", help="`wsreplay run`'s report.json (or its folder)")
    args = parser.parse_args(argv)
    try:
        if args.command == "command":
            name, _, version = args.driver.partition("@")
            log = lambda message: print(message, file=sys.stderr)  # noqa: E731
            argv_, env = driver_command(name, version or None, url=args.url, log=log)
            assigns = [f"{k}={shlex.quote(v)}" for k, v in sorted(env.items())]
            print(shlex.join(["env", *assigns, *argv_]) if assigns else shlex.join(argv_))
            return 0
        if args.command == "crosscheck":
            name, _, version = args.driver.partition("@")
            log = lambda message: print(message, file=sys.stderr)  # noqa: E731
            result = crosscheck(
                name,
                version or None,
                out=args.out,
                spec=args.spec,
                adapter_report=args.adapter_report,
                log=log,
            )
            print(format_differences(result.comparison))
            return 0
        comparison = compare_reports(_load(args.driver_report), _load(args.adapter_report))
        print(format_differences(comparison))
        return 0
    except (DriverError, installers.InstallError, installers.VersionNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
