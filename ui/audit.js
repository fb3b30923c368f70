// The administrator's search of the audit trail: GET /api/v1/audit/reads, as a table, and
// the same search as a CSV download.

import { el } from "./dom.js";

const READS = "api/v1/audit/reads";

// The inputs give local times without a zone; the API takes instants.
function instant(value) {
  return value ? new Date(value).toISOString() : null;
}

function query(form) {
  const params = new URLSearchParams();
  for (const name of ["patient", "reader"]) {
    const value = form[name].value.trim();
    if (value) params.set(name, value);
  }
  for (const name of ["since", "until"]) {
    const value = instant(form[name].value);
    if (value) params.set(name, value);
  }
  return params;
}

function patients(read) {
  return read.patients.map((shown) => {
    const who = shown.nhs_number ? `${shown.nhs_number} (${shown.patient_id})` : shown.patient_id;
    return el("li", {}, shown.withheld ? `${who}: withheld` : who);
  });
}

function row(read) {
  const reader = read.reader.name ? `${read.reader.name} (${read.reader.id})` : read.reader.id;
  return el(
    "tr",
    {},
    el("td", {}, new Date(read.read_at).toLocaleString("en-GB")),
    el("td", {}, reader),
    el("td", {}, read.reader_organisation),
    el("td", {}, read.view),
    el("td", {}, read.subject),
    el("td", {}, el("ul", { class: "plain" }, patients(read))),
  );
}

async function search(event) {
  event.preventDefault();
  const params = query(event.target);
  const problem = document.getElementById("audit-problem");
  const table = document.getElementById("audit-reads");
  const download = document.getElementById("audit-export");
  problem.textContent = "";
  if (!params.has("patient") && !params.has("reader")) {
    problem.textContent = "Name a patient, a reader, or both.";
    return;
  }
  const response = await fetch(`${READS}?${params}`);
  if (response.status === 401) {
    problem.textContent = "Your session has ended: sign in again on the whiteboard page.";
    return;
  }
  const answer = await response.json();
  if (!response.ok) {
    problem.textContent = typeof answer.detail === "string" ? answer.detail : "The search failed.";
    return;
  }
  table.tBodies[0].replaceChildren(...answer.map(row));
  table.hidden = answer.length === 0;
  document.getElementById("audit-summary").textContent =
    answer.length === 1 ? "1 read found." : `${answer.length} reads found.`;
  download.href = `${READS}.csv?${params}`;
  download.hidden = answer.length === 0;
}

async function start() {
  const response = await fetch("api/v1/session");
  if (!response.ok) {
    document.getElementById("audit-problem").textContent =
      "Sign in on the whiteboard page first, as an administrator.";
    return;
  }
  const session = await response.json();
  document.getElementById("who").textContent = session.name ?? session.account_id;
  document.getElementById("alerts-link").hidden = !session.grants.some((held) =>
    held.permissions.includes("alerts.read"),
  );
  document.getElementById("account").hidden = false;
}

document.getElementById("audit-form").addEventListener("submit", search);
start();
