// report.html — inlined by wsreplay/outputs/htmlreport.py.
// The matrix is rendered by Python; this script adds the filters and the cell
// page (#cell=SCENARIO|CLIENT), built from the report embedded as JSON. Text
// from the report only ever reaches the page through textContent/setAttribute.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("wsreplay-report").textContent);
  // The verdict words come from wsreplay's one vocabulary (judging/verdicts.py).
  var WORDS = JSON.parse(document.getElementById("wsreplay-verdicts").textContent).words;
  var OPCODES = { 0: "CONT", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG" };
  var HEX_BYTES = 32;
  var TEXT_CHARS = 240;
  var LISTED_MESSAGES = 20;

  var records = new Map();
  (data.results || []).forEach(function (r) { records.set(pairKey(r.scenario, r.client), r); });
  var scenarios = new Map();
  (data.scenarios || []).forEach(function (s) { scenarios.set(s.name, s); });
  var clients = new Map();
  (data.clients || []).forEach(function (c) { clients.set(c.spec, c); });

  var matrixView = document.getElementById("matrix-view");
  var cellView = document.getElementById("cell-view");

  function pairKey(scenario, client) { return scenario + "\u0000" + client; }

  // ------------------------------------------------------------ helpers

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "class") el.className = v;
        else el.setAttribute(k, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }

  // Only web links become href; anything else (javascript:, data:) stays text.
  function link(url, text) {
    if (typeof url === "string" && /^https?:\/\//i.test(url)) {
      return h("a", { href: url, rel: "noopener noreferrer" }, text || url);
    }
    return h("span", null, text || String(url));
  }

  function rfcLink(ref) {
    var m = /^(\d+)(?:#(.+))?$/.exec(String(ref));
    if (!m) return h("span", null, String(ref));
    var url = "https://www.rfc-editor.org/rfc/rfc" + m[1] + (m[2] ? "#section-" + m[2] : "");
    return link(url, "RFC " + m[1] + (m[2] ? " §" + m[2] : ""));
  }

  function cut(text, limit) {
    text = String(text);
    if (text.length <= limit) return text;
    return text.slice(0, limit) + "… (+" + (text.length - limit) + " chars)";
  }

  function quoted(text) { return "'" + cut(text, TEXT_CHARS) + "'"; }

  function json(value) {
    try { return JSON.stringify(value); } catch (e) { return String(value); }
  }

  // "81 0d 66 …" of at most HEX_BYTES bytes, and how many more there were.
  function hexView(hex, total) {
    hex = String(hex || "");
    var bytes = Math.floor(hex.length / 2);
    var shown = Math.min(bytes, HEX_BYTES);
    var pairs = [];
    for (var i = 0; i < shown; i++) pairs.push(hex.substr(i * 2, 2));
    var count = typeof total === "number" && total > bytes ? total : bytes;
    var frag = [h("span", { class: "payload" }, pairs.join(" "))];
    if (count > shown) {
      frag.push(h("span", { class: "more" }, " … +" + (count - shown) + " more bytes (" + count + " total)"));
    }
    return frag;
  }

  function verdictBadge(verdict) {
    return h("span", { class: "badge v-" + verdict }, WORDS[verdict] || String(verdict));
  }

  function passRate(r) {
    var runs = r && r.runs;
    if (typeof runs !== "number" || runs < 2 || Math.floor(runs) !== runs) return "";
    var passes = r.passes;
    if (typeof passes !== "number") {
      if (typeof r.pass_rate !== "number") return "";
      passes = Math.round(r.pass_rate * runs);
    }
    if (passes < 0 || passes > runs) return "";
    return passes + "/" + runs;
  }

  function clientLabel(spec) {
    var c = clients.get(spec) || {};
    var resolved = c.resolved_version;
    if (!resolved) return spec;
    var at = spec.indexOf("@");
    var requested = at >= 0 ? spec.slice(at + 1) : "";
    if (requested === resolved) return spec;
    return requested ? spec + " (" + resolved + ")" : spec + "@" + resolved;
  }

  function closeText(close) {
    if (close === null || close === undefined) return "none";
    if (typeof close !== "object") return json(close);
    var code = close.code === null || close.code === undefined ? "no code" : String(close.code);
    var reason = close.reason;
    return code + (reason ? " " + quoted(reason) : reason === "" ? " (no reason)" : "");
  }

  function messageText(m) {
    if (!m || typeof m !== "object") return json(m);
    var out = [];
    var kind = m.type || (m.hex !== undefined ? "binary" : "text");
    if (m.text !== undefined) out.push(quoted(m.text));
    else if (m.hex !== undefined) out.push("hex " + cut(m.hex, 2 * HEX_BYTES));
    else if (m.sha256) out.push("sha256 " + m.sha256);
    var facts = [kind];
    if (typeof m.length === "number") facts.push(m.length + " B");
    if (typeof m.count === "number") facts.push("× " + m.count);
    if (typeof m.t_ms === "number") facts.push("at " + m.t_ms.toFixed(3) + " ms");
    return out.join(" ") + " (" + facts.join(", ") + ")";
  }

  // ------------------------------------------------------------ filters

  var filterForm = document.getElementById("filters");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#matrix tr.scenario-row"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("#matrix tr.group"));

  function applyFilters() {
    var shown = new Set();
    filterForm.querySelectorAll("input[name=verdict]").forEach(function (box) {
      if (box.checked) shown.add(box.value);
    });
    var tag = filterForm.querySelector("select[name=tag]").value;
    var text = filterForm.querySelector("input[name=text]").value.trim().toLowerCase();
    var visible = 0;
    rows.forEach(function (row) {
      var tags = JSON.parse(row.getAttribute("data-tags") || "[]");
      var name = row.getAttribute("data-scenario");
      var rowOk = (!tag || tags.indexOf(tag) >= 0) && (!text || name.toLowerCase().indexOf(text) >= 0);
      var anyCell = false;
      row.querySelectorAll("td.cell").forEach(function (cell) {
        var v = cell.getAttribute("data-verdict");
        var on = v === "none" ? shown.size === 5 : shown.has(v);
        cell.classList.toggle("filtered", !on);
        if (on) anyCell = true;
      });
      row.hidden = !(rowOk && anyCell);
      if (!row.hidden) visible++;
    });
    groups.forEach(function (g) {
      var name = g.getAttribute("data-group");
      g.hidden = !rows.some(function (r) { return r.getAttribute("data-group") === name && !r.hidden; });
    });
    document.getElementById("filter-note").textContent =
      visible === rows.length ? rows.length + " scenario(s)" : visible + " of " + rows.length + " scenario(s) shown";
  }

  if (filterForm) {
    filterForm.addEventListener("change", applyFilters);
    filterForm.addEventListener("input", applyFilters);
    filterForm.addEventListener("submit", function (e) { e.preventDefault(); });
    var notPassing = document.getElementById("only-not-passing");
    if (notPassing) {
      notPassing.addEventListener("click", function () {
        filterForm.querySelectorAll("input[name=verdict]").forEach(function (box) {
          box.checked = box.value !== "pass";
        });
        applyFilters();
      });
    }
    var showAll = document.getElementById("show-all");
    if (showAll) {
      showAll.addEventListener("click", function () {
        filterForm.reset();
        applyFilters();
      });
    }
    applyFilters();
  }

  // ------------------------------------------------------------ routing

  function parseHash() {
    var hash = location.hash.replace(/^#/, "");
    if (hash.indexOf("cell=") !== 0) return null;
    var body = hash.slice(5);
    var bar = body.indexOf("|");
    if (bar < 0) bar = body.toUpperCase().indexOf("%7C");
    if (bar < 0) return null;
    var sepLen = body.charAt(bar) === "|" ? 1 : 3;
    try {
      return {
        scenario: decodeURIComponent(body.slice(0, bar)),
        client: decodeURIComponent(body.slice(bar + sepLen))
      };
    } catch (e) {
      return null;
    }
  }

  function route() {
    var pair = parseHash();
    if (!pair) {
      cellView.hidden = true;
      cellView.textContent = "";
      matrixView.hidden = false;
      document.title = document.body.getAttribute("data-title");
      return;
    }
    cellView.textContent = "";
    cellView.appendChild(renderCell(pair.scenario, pair.client));
    matrixView.hidden = true;
    cellView.hidden = false;
    document.title = pair.scenario + " × " + pair.client + " — " + document.body.getAttribute("data-title");
    window.scrollTo(0, 0);
  }

  window.addEventListener("hashchange", route);

  // ------------------------------------------------------------ the cell page

  function renderCell(scenarioName, spec) {
    var r = records.get(pairKey(scenarioName, spec));
    var s = scenarios.get(scenarioName) || { name: scenarioName };
    var page = h("article", { class: "cell-page", "data-scenario": scenarioName, "data-client": spec });
    page.appendChild(h("nav", { class: "cell-nav" }, h("a", { href: "#", id: "back" }, "← back to the matrix")));
    page.appendChild(h("h2", null, scenarioName, h("span", { class: "none" }, " × "), clientLabel(spec)));
    if (!r) {
      page.appendChild(h("p", { class: "none" }, "No result for this pair in the report (the run may not have reached it)."));
      page.appendChild(scenarioFacts(s, spec));
      return page;
    }
    var rate = passRate(r);
    page.appendChild(h("p", { class: "verdict-line", id: "cell-verdict", "data-verdict": r.verdict },
      verdictBadge(r.verdict),
      rate ? h("span", { class: "badge v-none" }, "passed " + rate + " runs") : null,
      h("span", { class: "reason", id: "cell-reason" }, r.reason || "")));
    if (rate && Array.isArray(r.per_run)) page.appendChild(perRun(r));
    page.appendChild(scenarioFacts(s, spec, r));
    page.appendChild(h("h3", null, "Expected and observed"));
    page.appendChild(expectedObserved(r));
    if ((r.checks || []).length) {
      page.appendChild(h("h3", null, "Checks"));
      page.appendChild(checksTable(r.checks));
    }
    page.appendChild(h("h3", null, "Wire transcript"));
    page.appendChild(timeline(r));
    if (r.adapter_stderr) {
      page.appendChild(h("details", null, h("summary", null, "adapter stderr"),
        h("pre", { class: "block" }, r.adapter_stderr)));
    }
    page.appendChild(h("details", null, h("summary", null, "the record as JSON"),
      h("pre", { class: "block" }, JSON.stringify(r, null, 2))));
    return page;
  }

  // One small badge per run of a repeated pair; the evidence shown is one run's.
  function perRun(r) {
    var p = h("p", { class: "per-run", id: "per-run" }, "runs: ");
    r.per_run.forEach(function (run, i) {
      var v = run && run.verdict;
      p.appendChild(h("span", {
        class: "badge run v-" + v,
        title: "run " + (i + 1) + ": " + (run && run.reason || "")
      }, String(i + 1)));
    });
    if (typeof r.evidence_run === "number") {
      p.appendChild(h("span", { class: "none" }, " — the evidence below is from run " + r.evidence_run));
    }
    return p;
  }

  function scenarioFacts(s, spec, r) {
    var dl = h("dl", { class: "facts" });
    function fact(name, value) { dl.appendChild(h("dt", null, name)); dl.appendChild(h("dd", null, value)); }
    if (s.summary) fact("scenario", s.summary);
    if ((s.rfc || []).length) {
      fact("RFC", s.rfc.map(function (ref, i) { return [i ? ", " : "", rfcLink(ref)]; }));
    }
    if ((s.tags || []).length) fact("tags", s.tags.join(", "));
    if ((s.bugs || []).length) {
      fact("known bugs", s.bugs.map(function (b, i) {
        return [i ? "; " : "", String(b.library || "") + " " + String(b.versions || "") + ": ", link(b.url)];
      }));
    }
    var c = clients.get(spec) || {};
    var about = [c.library, r && r.resolved_version ? r.resolved_version : c.resolved_version]
      .filter(Boolean).join(" ");
    var more = [c.api, c.language].filter(Boolean).join(" · ");
    fact("client", [spec, about ? " → " + about : "", more ? " (" + more + ")" : ""].join(""));
    if (c.status === "error" && c.error) fact("client error", c.error);
    if (r && r.timing) {
      fact("ran", String(r.timing.started || "") +
        (typeof r.timing.duration_ms === "number" ? ", " + r.timing.duration_ms.toFixed(1) + " ms" : ""));
    }
    return dl;
  }

  function findCheck(r, name) {
    return (r.checks || []).filter(function (c) { return c.name === name; })[0];
  }

  function expectedObserved(r) {
    var ex = r.expected || {};
    var ob = r.observed;
    var table = h("table", { class: "plain stack", id: "expected-observed" },
      h("thead", null, h("tr", null, h("th", null, ""), h("th", null, "expected"), h("th", null, "observed"))));
    var body = h("tbody");
    table.appendChild(body);
    function row(name, expected, observed, check) {
      var cls = check ? (check.ok ? "ok" : "not-ok") : null;
      body.appendChild(h("tr", null, h("th", null, name),
        h("td", { "data-label": "expected" }, expected),
        h("td", { class: cls, "data-label": "observed" }, observed)));
    }
    if (ob === null || ob === undefined) {
      row("observation", "", h("span", { class: "none" }, "none: the adapter reported nothing (crash, hang or garbage)"));
    }
    if (ex.messages !== undefined) {
      var expectedList = h("ol", { class: "msg-list" });
      ex.messages.forEach(function (m) { expectedList.appendChild(h("li", null, messageText(m))); });
      row("messages", expectedList, ob ? messageList(ob.messages || []) : "", findCheck(r, "messages"));
    } else if (ob && (ob.messages || []).length) {
      row("messages", h("span", { class: "none" }, "not checked"), messageList(ob.messages));
    }
    if (ex.close !== undefined || (ob && ob.close !== undefined)) {
      row("close", ex.close !== undefined ? closeText(ex.close) : h("span", { class: "none" }, "not checked"),
        ob ? closeText(ob.close) : "", findCheck(r, "close"));
    }
    var cc = findCheck(r, "client_close");
    if (ex.client_close !== undefined) {
      var want = ex.client_close === false ? "no close frame from the client" : closeText(ex.client_close);
      var got = cc ? (cc.observed ? closeText(cc.observed) : "none") : clientCloseFromTranscript(r.transcript);
      row("client close", want, got, cc);
    }
    if (ob) {
      var ending = String(ob.end);
      if (ob.error && ob.error.type) ending += "; raised " + ob.error.type + (ob.error.message ? ": " + cut(ob.error.message, 400) : "");
      row("receiving ended", "", ending);
      var conn = ob.connected ? "connected" : "not connected";
      if (ob.subprotocol) conn += ", subprotocol " + quoted(ob.subprotocol);
      if (ob.http_status) conn += ", HTTP " + ob.http_status;
      if ((ob.unsupported || []).length) conn += "; unsupported knobs: " + ob.unsupported.join(", ");
      if (typeof ob.duration_ms === "number") conn += "; " + ob.duration_ms.toFixed(1) + " ms";
      row("connection", "", conn);
    }
    return h("div", { class: "table-wrap" }, table);
  }

  function clientCloseFromTranscript(t) {
    if (!t) return "unknown (no transcript)";
    var ev = (t.events || []).filter(function (e) { return e.type === "frame" && e.dir === "in" && e.opcode === 8; })[0];
    return ev ? closeText({ code: ev.close_code, reason: ev.close_reason }) : "none";
  }

  function messageList(messages) {
    if (!messages.length) return h("span", { class: "none" }, "no messages");
    var ol = h("ol", { class: "msg-list" });
    messages.slice(0, LISTED_MESSAGES).forEach(function (m) { ol.appendChild(h("li", null, messageText(m))); });
    var wrap = [h("div", null, messages.length + " message(s)"), ol];
    if (messages.length > LISTED_MESSAGES) {
      wrap.push(h("div", { class: "none" }, "… " + (messages.length - LISTED_MESSAGES) + " more"));
    }
    return wrap;
  }

  function checksTable(checks) {
    var body = h("tbody");
    checks.forEach(function (c) {
      body.appendChild(h("tr", null,
        h("td", { class: "nowrap", "data-label": "check" }, c.name),
        h("td", { class: "nowrap " + (c.ok ? "ok" : "not-ok"), "data-label": "result" },
          c.ok ? "held" : "did not hold"),
        h("td", { class: "nowrap", "data-label": "severity" }, c.severity),
        h("td", { "data-label": "detail" }, c.detail),
        h("td", { class: "mono", "data-label": "expected" }, cut(json(c.expected), 400)),
        h("td", { class: "mono", "data-label": "observed" }, cut(json(c.observed), 400))));
    });
    return h("div", { class: "table-wrap" }, h("table", { class: "plain stack", id: "checks" },
      h("thead", null, h("tr", null, ["check", "result", "severity", "detail", "expected", "observed"].map(function (t) {
        return h("th", null, t);
      }))), body));
  }

  // ------------------------------------------------------------ the timeline

  function timeline(r) {
    var t = r.transcript;
    var appEvents = (r.observed && Array.isArray(r.observed.events)) ? r.observed.events : [];
    var items = [];
    var serial = 0;
    if (t && Array.isArray(t.events)) {
      t.events.forEach(function (e) {
        items.push({ ms: (Number(e.t_us) || 0) / 1000, order: serial++, server: e });
      });
    }
    appEvents.forEach(function (e) {
      items.push({ ms: Number(e.t_ms) || 0, order: serial++, app: e });
    });
    items.sort(function (a, b) { return a.ms - b.ms || a.order - b.order; });

    var box = h("div", null);
    var note = [];
    if (!t) note.push("No server transcript: the server saw no connection for this job, or it was not fetched.");
    else {
      var end = t.end ? " The session ended: " + t.end.reason + (t.end.detail ? " (" + t.end.detail + ")" : "") + "." : "";
      note.push("Server events are timed from the TCP accept (t_us), the client application's events (app) from the adapter's connect_start (t_ms); the two clocks start at nearly, not exactly, the same moment." + end);
    }
    box.appendChild(h("p", { class: "tl-note" }, note.join(" ")));
    if (!items.length) return box;
    var tl = h("div", { class: "timeline", id: "timeline" });
    tl.appendChild(h("div", { class: "tl-row tl-head" },
      h("div", { class: "tl-time" }, "ms"),
      h("div", null, "server → client"),
      h("div", null, "client → server · client app")));
    items.forEach(function (item) {
      var ev = item.server ? serverEvent(item.server) : appEvent(item.app);
      var time = h("div", { class: "tl-time" }, item.ms.toFixed(3),
        item.app ? h("span", { class: "clock" }, "client clock") : null);
      var left = ev.side === "server" ? ev.node : h("div", { class: "tl-empty" });
      var right = ev.side === "client" ? ev.node : h("div", { class: "tl-empty" });
      tl.appendChild(h("div", { class: "tl-row", "data-side": ev.side, "data-kind": ev.kind }, time, left, right));
    });
    box.appendChild(tl);
    return box;
  }

  function evBox(side, kind, arrow, title, details) {
    var label = side === "server" ? (kind === "note" ? "server (internal)" : "server → client") :
      (kind === "app" ? "client application" : "client → server");
    return {
      side: side,
      kind: kind,
      node: h("div", { class: "tl-ev side-" + side + " kind-" + kind, "data-side-label": label },
        h("div", null, arrow ? h("span", { class: "arrow" }, arrow) : null, h("span", { class: "title" }, title)),
        details)
    };
  }

  function frameFlags(e) {
    var flags = [];
    if (e.fin === true) flags.push("FIN");
    else if (e.fin === false) flags.push("no FIN");
    var rsv = Number(e.rsv) || 0;
    if (rsv & 4) flags.push("RSV1");
    if (rsv & 2) flags.push("RSV2");
    if (rsv & 1) flags.push("RSV3");
    if (e.masked === true) flags.push("masked");
    else if (e.masked === false) flags.push("unmasked");
    if (typeof e.length === "number") flags.push("len " + e.length);
    if (typeof e.length_form === "number") flags.push("length form " + e.length_form);
    return flags.join(" · ");
  }

  function opcodeName(op) {
    if (OPCODES[op] !== undefined) return OPCODES[op];
    return "opcode 0x" + Number(op).toString(16) + (op >= 3 && op <= 7 || op >= 11 ? " (reserved)" : "");
  }

  function serverEvent(e) {
    var dir = e.dir;
    var side = dir === "in" ? "client" : "server";
    var kind = dir ? "wire" : "note";
    var arrow = dir === "out" ? "→" : dir === "in" ? "←" : "";
    var details = [];
    var title;
    switch (e.type) {
      case "frame":
        title = opcodeName(e.opcode) + " frame";
        if (typeof e.count === "number" && e.count > 1) {
          // a run of like data frames, logged as one event (server/README.md)
          title = e.count + " " + opcodeName(e.opcode) + " frames alike";
          details.push(h("div", { class: "sub" }, "the first shown; the last at " +
            ((Number(e.t_us_last) || 0) / 1000).toFixed(3) + " ms" +
            (e.offset_last !== undefined ? ", byte " + e.offset_last : "")));
        }
        details.push(h("div", { class: "sub" }, frameFlags(e)));
        if (e.opcode === 8 && (e.close_code !== undefined || e.close_reason !== undefined)) {
          details.push(h("div", null, "close " + closeText({ code: e.close_code, reason: e.close_reason })));
        }
        if (e.text !== undefined) details.push(h("div", { class: "payload" }, quoted(e.text)));
        else if (e.hex !== undefined && e.hex !== "") details.push(h("div", null, hexView(e.hex, e.length)));
        break;
      case "write":
      case "raw":
        title = (e.type === "raw" ? "raw bytes" : "write") + (typeof e.bytes === "number" ? " " + e.bytes + " B" : "") +
          (e.piece !== undefined ? " (piece " + e.piece + ")" : "");
        if (e.hex !== undefined) details.push(h("div", null, hexView(e.hex, e.bytes)));
        break;
      case "acked": title = "acked" + (typeof e.bytes === "number" ? " " + e.bytes + " B" : ""); break;
      case "ack_timeout": title = "not acked in time" + (e.unacked !== undefined ? ": " + e.unacked + " B unacked" : ""); break;
      case "ack_reset": title = "never acked: the client reset the connection" + (e.unacked !== undefined ? ": " + e.unacked + " B unacked" : ""); break;
      case "tcp_accept": title = "TCP connection accepted"; break;
      case "http_request":
        title = String(e.method || "request") + " " + String(e.target || "");
        if (typeof e.bytes === "number") details.push(h("div", { class: "sub" }, e.bytes + " B"));
        if (Array.isArray(e.headers) && e.headers.length) {
          var tbody = h("tbody");
          e.headers.forEach(function (pair) {
            tbody.appendChild(h("tr", null, h("th", null, String(pair[0])), h("td", null, cut(pair[1], 400))));
          });
          details.push(h("details", null, h("summary", null, e.headers.length + " header(s)"),
            h("table", { class: "plain" }, tbody)));
        }
        break;
      case "http_response":
        title = "HTTP " + String(e.status === undefined ? "" : e.status) + (e.reason ? " " + e.reason : "");
        if (typeof e.bytes === "number") details.push(h("div", { class: "sub" }, e.bytes + " B"));
        break;
      case "message":
        title = "message " + opcodeName(e.opcode) + (typeof e.length === "number" ? " " + e.length + " B" : "");
        if (e.utf8_valid === false) details.push(h("div", { class: "sub" }, "not valid UTF-8"));
        break;
      case "tcp_shutdown": title = "FIN (shutdown write)"; break;
      case "tcp_rst": title = "RST (abort)"; break;
      case "tcp_eof": title = "FIN from the client (EOF)"; break;
      case "tcp_error": title = "socket error" + (e.error ? ": " + e.error : ""); break;
      case "protocol_error":
        title = "protocol error" + (e.reason ? ": " + e.reason : "");
        if (e.hex) details.push(h("div", null, hexView(e.hex)));
        break;
      case "step": title = "step " + String(e.index) + ": " + String(e.step); break;
      case "await_done":
        title = "await " + String(e.what) + ": " + String(e.result) +
          (typeof e.waited_ms === "number" ? " after " + e.waited_ms + " ms" : "");
        break;
      case "limit": title = "limit " + String(e.limit || e.reason || "") + (e.value !== undefined ? " = " + e.value : ""); break;
      case "steps_done": title = "steps done"; break;
      case "closed": title = "session closed"; break;
      default:
        title = String(e.type);
        var rest = {};
        Object.keys(e).forEach(function (k) { if (["t_us", "type", "dir"].indexOf(k) < 0) rest[k] = e[k]; });
        if (Object.keys(rest).length) details.push(h("div", { class: "payload" }, cut(json(rest), 400)));
    }
    return evBox(side, kind, arrow, title, details);
  }

  function appEvent(e) {
    var facts = [];
    Object.keys(e).forEach(function (k) {
      if (k === "t_ms" || k === "event") return;
      var v = e[k];
      facts.push(k + " " + (typeof v === "string" ? cut(v, TEXT_CHARS) : cut(json(v), TEXT_CHARS)));
    });
    return evBox("client", "app", "app", String(e.event),
      facts.length ? h("div", { class: "sub" }, facts.join(" · ")) : null);
  }

  route();
})();
