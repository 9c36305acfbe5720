// The migration dashboard: sign in as an admin, read GET /api/v1/admin/migration, change states with PATCH.
// Every value from the server is put in the page with textContent (never as HTML), and the access token
// lives in sessionStorage only: it is never in the HTML and it ends with the tab.
"use strict";

const TOKEN_KEY = "datalab.migration.token";
const body = document.body;
const LOGIN_URL = body.dataset.login;
const REPORT_URL = body.dataset.report;
const ACTIONS = [
  { action: "shadow", label: "Shadow", state: "shadow" },
  { action: "canary", label: "Canary…", state: "canary" },
  { action: "migrate", label: "Migrate", state: "migrated" },
  { action: "rollback", label: "Roll back", state: "legacy" },
];

const $ = (id) => document.getElementById(id);

function say(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("routes").hidden = true;
  $("login").hidden = false;
  if (message) say(message, true);
}

async function errorText(response) {
  // v1 answers {"error": {"message"}}; anything else is named by its status.
  try {
    const data = await response.json();
    if (data && data.error && data.error.message) return data.error.message;
  } catch (_) { /* not JSON */ }
  return `HTTP ${response.status}`;
}

async function api(method, url, payload) {
  const headers = { Accept: "application/json" };
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(url, {
    method,
    headers,
    body: payload === undefined ? undefined : JSON.stringify(payload),
    credentials: "omit",
    cache: "no-store",
  });
  if (response.status === 401) {
    showLogin("Your session ended: sign in again.");
    throw new Error("signed out");
  }
  if (response.status === 403) {
    showLogin("This page is for administrators only.");
    throw new Error("forbidden");
  }
  if (!response.ok) throw new Error(await errorText(response));
  return response.status === 204 ? null : response.json();
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined || text === "" ? "-" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function day(iso) {
  return iso ? iso.slice(0, 10) : null;
}

function latency(route, implementation) {
  const found = (route.latency || {})[implementation];
  if (!found || !found.samples) return null;
  return `${found.p50_ms} / ${found.p99_ms} ms (${found.samples})`;
}

function share(route) {
  // The share of requests the port serves while the route is a canary.
  const percent = route.percent ?? route.canary_percent;
  if (route.state !== "canary" || percent === undefined || percent === null) return null;
  return `${percent}%`;
}

function stateText(route) {
  if (route.live_state && route.live_state !== route.state) {
    return `${route.state} (servers: ${route.live_state})`;
  }
  return route.state;
}

function render(report) {
  $("registry").textContent = report.registry;
  const rows = $("rows");
  rows.replaceChildren();
  for (const route of report.routes) {
    const row = document.createElement("tr");
    row.dataset.route = route.route;
    cell(row, route.route, "route");
    cell(row, stateText(route), `state state-${route.state}`);
    cell(row, share(route), "num share");
    cell(row, `${route.served_legacy_flask} / ${route.served_fastapi}`, "num requests");
    cell(row, latency(route, "legacy_flask"), "num");
    cell(row, latency(route, "fastapi"), "num");
    const mismatches = cell(row, `${route.shadow_mismatches} of ${route.shadow_compared}`, "mismatches");
    if (route.last_mismatch) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = `latest ${route.last_mismatch_at || ""}`;
      const diff = document.createElement("pre");
      diff.textContent = route.last_mismatch;
      details.append(summary, diff);
      mismatches.appendChild(details);
    }
    cell(row, day(route.deprecation));
    cell(row, day(route.sunset));
    const actions = cell(row, "", "actions");
    actions.textContent = "";
    for (const spec of ACTIONS) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = spec.label;
      button.dataset.action = spec.action;
      button.disabled = spec.state === route.state && spec.state !== "canary";
      button.addEventListener("click", () => change(route.route, spec));
      actions.appendChild(button);
    }
    rows.appendChild(row);
  }
}

async function load() {
  try {
    render(await api("GET", REPORT_URL));
    $("login").hidden = true;
    $("routes").hidden = false;
  } catch (error) {
    if (!$("login").hidden) return;
    say(`Could not read the report: ${error.message}`, true);
  }
}

async function change(name, spec) {
  const wanted = { state: spec.state };
  if (spec.state === "canary") {
    const answer = prompt(`Share of ${name} requests the FastAPI port serves (1-99 %):`, "10");
    if (answer === null) return;
    const percent = Number(answer);
    if (!Number.isInteger(percent) || percent < 1 || percent > 99) {
      say("The canary share is a whole number from 1 to 99.", true);
      return;
    }
    wanted.percent = percent;
  }
  const what = spec.state === "canary" ? `canary at ${wanted.percent}%` : spec.state;
  if (!confirm(`Put ${name} in state ${what}?`)) return;
  const reason = $("reason").value.trim() || "changed from the migration dashboard";
  try {
    await api("PATCH", REPORT_URL, { routes: { [name]: wanted }, reason });
    say(`${name} is now ${what}.`, false);
  } catch (error) {
    if (!$("routes").hidden) say(`Refused: ${error.message}`, true);
    return;
  }
  await load();
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  say("Signing in…", false);
  try {
    const tokens = await api("POST", LOGIN_URL, {
      email: form.elements.email.value,
      password: form.elements.password.value,
    });
    sessionStorage.setItem(TOKEN_KEY, tokens.access_token);
    form.reset();
    say("", false);
    await load();
  } catch (error) {
    if (error.message !== "signed out") say(`Sign-in failed: ${error.message}`, true);
    else say("Bad email or password.", true);
  }
}

$("login").addEventListener("submit", signIn);
$("reload").addEventListener("click", load);
$("signout").addEventListener("click", () => showLogin(""));
if (token()) load();
