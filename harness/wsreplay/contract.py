"""The records that cross the harness's boundaries, as static types.

Each one is written down elsewhere first; these types follow those documents
and `harness/tests/test_types.py` holds them to it:

- `Job` and `Knobs`: what the harness sends an adapter, one line per job
  (harness/adapters/README.md, "Job").
- `Observation`: what the adapter answers, one line per job
  (harness/adapters/README.md, "Observation"); a report record carries it as
  `observed` (results/report.schema.json, `$defs/observation`).
- `Scenario`: one scenario as the server's loader publishes it
  (`wsreplay-server --check --json`, server/README.md): the file's object
  (docs/scenario.schema.json) plus `file`, the complete `client` knobs and
  `budget_ms`.
- `ReportRecord`: one (scenario, client) result in report.json
  (results/report.schema.json, `$defs/result`).

They are types for mypy only: nothing here checks data at run time. An
adapter is a separate program, so `evaluate()` still checks an observation's
shape before judging it, and adapters may add fields the types do not name.

No `from __future__ import annotations` here: TypedDict reads `Required` and
`NotRequired` only from evaluated annotations, and the test reads
`__required_keys__` to hold them to the documents.
"""

from typing import Any, Literal, NotRequired, Required, TypedDict

# --------------------------------------------------------------- job


class SendItem(TypedDict, total=False):
    """One entry of the `send` knob: exactly one of the three."""

    text: str
    hex: str
    ping: str


class CloseFirst(TypedDict, total=False):
    """The `close_first` knob: the application closes, after messages or after time."""

    code: int | None
    reason: str
    after_messages: int
    after_ms: int


class Knobs(TypedDict):
    """The client knobs, complete: the loader fills in every default."""

    recv_delay_ms: int
    recv_pace_ms: int
    recv_timeout_ms: int
    max_messages: int
    echo: bool
    send: list[SendItem]
    close_first: CloseFirst | None
    subprotocols: list[str]
    #: "default", "off", "on" or the offer asked for:
    #: {"server_no_context_takeover": bool, "client_no_context_takeover": bool,
    #:  "server_max_window_bits": 8..15, "client_max_window_bits": 8..15 or true}
    compression: str | dict[str, object]


class Job(TypedDict):
    """One job line on the adapter's stdin."""

    id: str
    url: str
    scenario: str
    knobs: Knobs
    deadline_ms: int
    #: only for a wss:// URL: the run's certificate authority
    ca_file: NotRequired[str]


# --------------------------------------------------------------- observation

#: How receiving ended (`end`).
End = Literal[
    "closed",
    "timeout",
    "max_messages",
    "connect_failed",
    "connect_timeout",
    "error",
    "unsupported",
    "adapter_error",
]


class ObservedMessage(TypedDict, total=False):
    """A data message as the application received it: content or its digest."""

    type: Required[Literal["text", "binary"]]
    length: int
    text: str
    hex: str
    sha256: str
    t_ms: float


class ObservedClose(TypedDict, total=False):
    """The close code and reason as the library exposes them."""

    code: int | None
    reason: str | None
    #: false: the API has no way to expose a close code on this path
    observable: bool


class ObservedError(TypedDict, total=False):
    """The exception that ended receiving or connecting."""

    type: Required[str]
    message: str


class Crash(TypedDict, total=False):
    """An exception or panic of the library that would kill an application."""

    type: Required[str]
    message: Required[str]
    where: Required[str]
    at: str
    stack: str


class ObservationEvent(TypedDict, total=False):
    """One entry of the adapter's timeline; which fields follow depends on `event`."""

    t_ms: Required[float]
    event: Required[str]
    type: str
    length: int
    code: int | None
    kind: str
    error: str
    why: str
    source: str
    waited_ms: float
    message: str
    where: str


class Observation(TypedDict, total=False):
    """What the application saw during one job: facts, never verdicts."""

    id: str
    connected: bool
    messages: list[ObservedMessage]
    close: ObservedClose | None
    end: Required[End]
    error: ObservedError | None
    unsupported: list[str]
    subprotocol: str | None
    http_status: int | None
    clean: bool | None
    clean_source: str
    crash: Crash | None
    t0_unix_us: int
    events: list[ObservationEvent]
    duration_ms: float


# --------------------------------------------------------------- scenario

#: A scenario's `expect` object as written (docs/scenario.schema.json,
#: `$defs/expect`); judged check by check, so read by name.
Expect = dict[str, Any]

#: The server's wire log of one session (server/README.md); read loosely.
Transcript = dict[str, Any]


class Bug(TypedDict, total=False):
    """One entry of a scenario's `bugs`: a report of a library bug it reproduces."""

    library: Required[str]
    versions: str
    url: str
    adapter: str
    affected: str
    fixed: str
    proof: str


class Budget(TypedDict):
    """The loader's time budget for a scenario, in milliseconds."""

    steps: int
    client: int
    deadline: int
    #: A job's usual length: orders jobs longest first, balances shards.
    expected: int


class Wire(TypedDict):
    """What a scenario's write groups put on the wire (the loader counts it)."""

    bytes: int
    items: int


class VaryOptOut(TypedDict):
    """`"vary": {"no": WHY}`: the scenario gets no `--vary` cells."""

    no: str


class EchoMode(TypedDict, total=False):
    """`"echo_mode"`: what echo mode judges from the wire instead of what it
    derives (`expect`), or why the scenario cannot be judged there (`no`)."""

    expect: Expect
    no: str


class Scenario(TypedDict, total=False):
    """One scenario as the loader publishes it (`wsreplay-server --check --json`)."""

    name: Required[str]
    summary: Required[str]
    rfc: Required[list[str]]
    tags: list[str]
    autobahn: list[str]
    bugs: list[Bug]
    transport: Literal["wss"]
    handshake: Literal["auto", "manual"]
    deflate: Literal["decline", "accept"] | dict[str, Any]
    client: Required[Knobs]
    steps: Required[list[dict[str, Any]]]
    expect: Required[Expect]
    severity: str
    severity_by_check: dict[str, str]
    waive: dict[str, str]
    run_alone: bool
    vary: VaryOptOut
    echo_mode: EchoMode
    # added by the loader
    file: Required[str]
    wire: Required[Wire]
    budget_ms: Required[Budget]


# --------------------------------------------------------------- report


class CheckRecord(TypedDict):
    """One judged expectation in a record's `checks`."""

    name: str
    ok: bool
    severity: str
    expected: Any
    observed: Any
    detail: str


class RunSummary(TypedDict):
    """One run of a pair in a record's `per_run`."""

    verdict: str
    reason: str
    duration_ms: float


class Timing(TypedDict):
    """When the evidence run started and how long it took."""

    started: str
    duration_ms: float


class ReportRecord(TypedDict):
    """One (scenario, client) result: the verdict, the reason and the evidence."""

    scenario: str
    client: str
    resolved_version: str | None
    verdict: str
    reason: str
    transport: NotRequired[Literal["ws", "wss"]]
    runs: int
    passes: int
    pass_rate: float
    per_run: list[RunSummary]
    evidence_run: int
    checks: list[CheckRecord]
    expected: Expect | None
    observed: Observation | None
    timing: Timing
    transcript: Transcript | None
    adapter_stderr: str | None
