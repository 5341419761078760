// Flotilla dashboard: renders /api/fleet, /api/cluster and /api/sync, and
// refreshes when /api/events announces a new batch of changes. Everything
// from the hub is set as text (textContent, title, href built with
// encodeURIComponent): no markup from the server is ever parsed.
"use strict";

(function () {
  const main = document.getElementById("main");
  const live = document.getElementById("live");
  let fleet = null;
  let seen = 0;
  let loading = false;
  let again = false;
  let ages = []; // [element, heartbeat ms, row] updated every second

  // el builds an element; attrs are set as properties, children are nodes
  // or strings (turned into text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k === "data") Object.assign(e.dataset, v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
    }
    return e;
  }

  function shortRev(r) {
    if (!r) return "";
    const m = /^(.*)@sha1:([0-9a-f]{7,})$/.exec(r);
    return m ? m[1] + "@" + m[2].slice(0, 10) : r;
  }

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 90) return s + "s ago";
    if (s < 5400) return Math.round(s / 60) + "m ago";
    return Math.round(s / 3600) + "h ago";
  }

  function route() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    return parts[0] ? parts : [];
  }

  function href(...parts) {
    return "#/" + parts.map(encodeURIComponent).join("/");
  }

  async function getJSON(url) {
    const res = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (res.status === 401) {
      location.assign("/login");
      throw new Error("signed out");
    }
    if (!res.ok) throw new Error(url + ": " + res.status + " " + (await res.text()));
    return res.json();
  }

  async function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      do {
        again = false;
        fleet = await getJSON("/api/fleet");
        await render();
        document.body.dataset.version = String(fleet.version);
      } while (again);
    } catch (err) {
      main.replaceChildren(el("p", { class: "state-stale" }, String(err.message || err)));
    } finally {
      loading = false;
    }
  }

  async function render() {
    const r = route();
    ages = [];
    if (r[0] === "cluster" && r.length === 3) return renderCluster(r[1], r[2]);
    if (r[0] === "sync" && r.length === 4) return renderSync(r[1], r[2], r[3]);
    return renderFleet();
  }

  function isStale(c, now) {
    if (c.reachable !== "True") return true;
    if (!c.heartbeat) return false;
    return now - Date.parse(c.heartbeat) > fleet.staleAfterSeconds * 1000;
  }

  function stateCell(c, now, row) {
    const stale = isStale(c, now);
    const td = el("td", { class: "state " + (stale ? "state-stale" : "state-reachable"), title: [c.reason, c.message].filter(Boolean).join(": ") }, stale ? "stale" : "reachable");
    if (row) row.classList.toggle("stale", stale);
    return td;
  }

  function bars(resources) {
    const byName = {};
    for (const r of resources || []) byName[r.name] = r;
    return ["cpu", "memory", "nvidia.com/gpu"].map((n) => {
      const r = byName[n];
      if (!r) return el("td", { class: "muted" }, "–");
      const td = el("td", { title: r.text });
      if (r.available >= 0 && r.allocatable > 0) {
        td.append(el("meter", { min: 0, max: r.allocatable, value: r.allocatable - r.available, low: r.allocatable * 0.7, high: r.allocatable * 0.9, optimum: 0 }));
      }
      td.append(el("span", { class: "res" }, r.text));
      return td;
    });
  }

  function cellLink(ns, app, cluster, cell) {
    if (!cell) return el("td", { class: "muted" }, "");
    let cls = "wait";
    let text = cell.reason || "pending";
    if (cell.ready === "True") { cls = "ok"; text = "✓ " + shortRev(cell.revision); }
    else if (cell.ready === "False") cls = "fail";
    if (cell.drift > 0) text += " ⟲" + cell.drift;
    const title = [
      "ready: " + cell.ready + ", healthy: " + cell.healthy,
      cell.revision ? "revision: " + cell.revision : "",
      cell.stage ? "rollout stage: " + cell.stage : "",
      cell.drift ? "drift corrections: " + cell.drift : "",
      cell.message || "",
    ].filter(Boolean).join("\n");
    return el("td", {}, el("a", { class: "cell " + cls, href: href("sync", ns, app, cluster), title: title, data: { app: app, cluster: cluster } }, text));
  }

  function renderFleet() {
    const now = Date.now();
    const out = [];
    if (fleet.namespaces.length === 0) out.push(el("p", { class: "muted" }, "No fleet you may see yet."));
    for (const ns of fleet.namespaces) {
      out.push(el("h2", {}, "Namespace " + ns.name));
      const repos = el("table", { class: "repos" }, el("tr", {}, el("th", {}, "Repository"), el("th", {}, "URL"), el("th", {}, "Revision"), el("th", {}, "Ready"), el("th", {}, "Message")));
      for (const r of ns.repositories) {
        repos.append(el("tr", { data: { repo: r.name } }, el("td", {}, r.name), el("td", {}, r.url), el("td", { class: "revision", title: r.revision }, shortRev(r.revision)), el("td", {}, r.ready), el("td", { class: "msg" }, r.message || "")));
      }
      out.push(repos);

      const apps = el("table", { class: "apps" }, el("tr", {}, el("th", {}, "App"), el("th", {}, "Revision"), el("th", {}, "Synced / healthy / placed"), el("th", {}, "Rollout"), el("th", {}, "Stage")));
      for (const a of ns.apps) {
        const ro = a.rollout;
        const rollout = el("td", { title: ro ? ro.message || "" : "" });
        if (ro) {
          rollout.append(el("progress", { max: Math.max(ro.total, 1), value: ro.updated }), el("span", { class: "res" }, ro.phase + " " + ro.updated + "/" + ro.total));
        } else rollout.append("–");
        apps.append(el("tr", { data: { app: a.name } }, el("td", {}, a.name), el("td", { title: a.revision }, shortRev(a.revision)), el("td", {}, a.synced + " / " + a.healthy + " / " + a.selected), rollout, el("td", {}, ro ? ro.stage || "" : "")));
      }
      out.push(apps);

      const head = el("tr", {}, el("th", {}, "Cluster"), el("th", {}, "State"), el("th", {}, "Heartbeat"), el("th", {}, "Mode"), el("th", {}, "Revision"), el("th", {}, "Apps"), el("th", {}, "CPU"), el("th", {}, "Memory"), el("th", {}, "GPU"));
      for (const a of ns.apps) head.append(el("th", {}, a.name));
      const matrix = el("table", { class: "matrix" }, head);
      const frag = document.createDocumentFragment();
      for (const c of ns.clusters) {
        const row = el("tr", { data: { cluster: c.name } });
        const labels = Object.entries(c.labels || {}).map(([k, v]) => k + "=" + v).join(", ");
        const age = el("td", { class: "age" }, c.heartbeat ? ago(now - Date.parse(c.heartbeat)) : "never");
        const revs = c.revisions || [];
        row.append(
          el("td", { title: labels }, el("a", { href: href("cluster", ns.name, c.name) }, c.name)),
          stateCell(c, now, row), age, el("td", {}, c.mode),
          el("td", { title: revs.join("\n") }, revs.length > 1 ? "mixed (" + revs.length + ")" : shortRev(revs[0] || "")),
          el("td", {}, c.appsReady + "/" + c.appsTotal),
          ...bars(c.resources));
        for (const a of ns.apps) row.append(cellLink(ns.name, a.name, c.name, ns.cells[a.name + "/" + c.name]));
        if (c.heartbeat) ages.push([age, Date.parse(c.heartbeat), row, c]);
        frag.append(row);
      }
      matrix.append(frag);
      out.push(el("h3", {}, "Clusters × apps"), matrix);

      out.push(el("h3", {}, "Latest failures"));
      if (ns.failures.length === 0) out.push(el("p", { class: "muted" }, "None."));
      const ul = el("ul", { class: "failures" });
      for (const f of ns.failures) {
        ul.append(el("li", {}, el("a", { href: href("sync", ns.name, f.app, f.cluster) }, f.app + " on " + f.cluster), ": " + f.reason + ": ", el("span", { class: "msg" }, f.message)));
      }
      out.push(ul);
    }
    main.replaceChildren(...out);
  }

  function condTable(conds) {
    const t = el("table", {}, el("tr", {}, el("th", {}, "Condition"), el("th", {}, "Status"), el("th", {}, "Reason"), el("th", {}, "Message"), el("th", {}, "Since")));
    for (const c of conds || []) t.append(el("tr", {}, el("td", {}, c.type), el("td", {}, c.status), el("td", {}, c.reason), el("td", { class: "msg" }, c.message), el("td", {}, ago(Date.now() - Date.parse(c.since)))));
    return t;
  }

  function eventTable(events) {
    if (!events || events.length === 0) return el("p", { class: "muted" }, "No recent events.");
    const t = el("table", {}, el("tr", {}, el("th", {}, "Type"), el("th", {}, "Reason"), el("th", {}, "Message"), el("th", {}, "Count"), el("th", {}, "Last")));
    for (const e of events) t.append(el("tr", {}, el("td", {}, e.type), el("td", {}, e.reason), el("td", { class: "msg" }, e.message), el("td", {}, e.count), el("td", {}, ago(Date.now() - Date.parse(e.last)))));
    return t;
  }

  async function renderCluster(ns, name) {
    const d = await getJSON("/api/cluster?namespace=" + encodeURIComponent(ns) + "&name=" + encodeURIComponent(name));
    const c = d.cluster;
    const now = Date.now();
    const info = el("table", { class: "cluster" });
    const row = el("tr", { data: { cluster: c.name } }, el("th", {}, "State"), stateCell(c, now, null));
    info.append(row,
      el("tr", {}, el("th", {}, "Heartbeat"), el("td", { class: "age" }, c.heartbeat ? ago(now - Date.parse(c.heartbeat)) : "never")),
      el("tr", {}, el("th", {}, "Mode"), el("td", {}, c.mode)),
      el("tr", {}, el("th", {}, "Kubernetes"), el("td", {}, c.kubernetes || "")),
      el("tr", {}, el("th", {}, "Revisions"), el("td", {}, (c.revisions || []).join(", "))),
      el("tr", {}, el("th", {}, "Nodes"), el("td", {}, c.nodes)),
      el("tr", {}, el("th", {}, "Taints"), el("td", {}, ...(c.taints || []).map((t) => el("span", { class: "tag" }, t)))),
      el("tr", {}, el("th", {}, "Hold"), el("td", {}, c.hold || "")));
    for (const [k, v] of Object.entries(c.labels || {})) info.append(el("tr", { class: "label" }, el("th", {}, "label " + k), el("td", {}, v)));
    for (const [k, v] of Object.entries(d.vars || {})) info.append(el("tr", { class: "var" }, el("th", {}, "var " + k), el("td", {}, v)));
    const res = el("table", {}, el("tr", {}, el("th", {}, "CPU"), el("th", {}, "Memory"), el("th", {}, "GPU")), el("tr", {}, ...bars(c.resources)));
    const apps = el("table", {}, el("tr", {}, el("th", {}, "App"), el("th", {}, "Status")));
    for (const a of d.apps) apps.append(el("tr", {}, el("td", {}, a.app), cellLink(ns, a.app, c.name, a.cell)));
    main.replaceChildren(el("h2", {}, "Cluster " + c.name + " (namespace " + ns + ")"), info, el("h3", {}, "Capacity"), res,
      el("h3", {}, "Apps"), apps, el("h3", {}, "Conditions"), condTable(d.conditions), el("h3", {}, "Events"), eventTable(d.events));
  }

  async function renderSync(ns, app, cluster) {
    const d = await getJSON("/api/sync?namespace=" + encodeURIComponent(ns) + "&app=" + encodeURIComponent(app) + "&cluster=" + encodeURIComponent(cluster));
    const c = d.cell;
    const info = el("table", { class: "sync" },
      el("tr", {}, el("th", {}, "Ready"), el("td", {}, c.ready + (c.reason ? " (" + c.reason + ")" : ""))),
      el("tr", {}, el("th", {}, "Healthy"), el("td", {}, c.healthy)),
      el("tr", {}, el("th", {}, "Revision"), el("td", {}, c.revision || "")),
      el("tr", {}, el("th", {}, "Rollout stage"), el("td", {}, c.stage || "")),
      el("tr", {}, el("th", {}, "Drift corrections"), el("td", {}, c.drift)),
      el("tr", {}, el("th", {}, "Waiting for"), el("td", {}, d.waitingFor || "")),
      el("tr", {}, el("th", {}, "Message"), el("td", { class: "msg failure-message" }, c.message || "")));
    const objs = el("ul", { class: "objects" }, ...d.objects.map((o) => el("li", {}, o)));
    const drifted = el("ul", {}, ...(d.driftedObjects || []).map((o) => el("li", {}, o)));
    main.replaceChildren(el("h2", {}, app + " on ", el("a", { href: href("cluster", ns, cluster) }, cluster), " (namespace " + ns + ")"), info,
      el("h3", {}, "Conditions"), condTable(d.conditions),
      el("h3", {}, "Recent drift corrections"), d.driftedObjects && d.driftedObjects.length ? drifted : el("p", { class: "muted" }, "None in the last check" + (d.lastDriftCheck ? " (" + ago(Date.now() - Date.parse(d.lastDriftCheck)) + ")" : "") + "."),
      el("h3", {}, "Applied objects (" + d.objects.length + ")"), objs,
      el("h3", {}, "Events"), eventTable(d.events));
  }

  // Every second: heartbeat ages and staleness move without new data.
  setInterval(() => {
    const now = Date.now();
    for (const [age, hb, row, c] of ages) {
      age.textContent = ago(now - hb);
      const state = row.querySelector("td.state");
      if (!state) continue;
      const stale = isStale(c, now);
      if (row.classList.contains("stale") !== stale) {
        state.replaceWith(stateCell(c, now, row));
      }
    }
  }, 1000);

  function connect() {
    const es = new EventSource("/api/events");
    es.addEventListener("fleet", (ev) => {
      live.textContent = "live";
      live.className = "live on";
      const v = Number(ev.data);
      if (v !== seen) { seen = v; refresh(); }
    });
    es.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  }

  window.addEventListener("hashchange", () => { if (fleet) refresh(); });
  connect();
})();
