// Capacity alerts: the open alerts and each place's OPEL, kept live by the whiteboard
// socket (boards of readers of alerts are sent alerts whole and OPEL with the parameters
// and the week's levels behind it), the trends of the measures managers watch (trends.js),
// and a manager's acknowledgement or resolution of an alert, one request each. Nothing
// here decides an alert or a level: the alert watch does, on the log's clock, and this
// page shows what it published.

import { byName, el, svg } from "./dom.js";
import { liveLink } from "./live.js";
import {
  describeProblem,
  field,
  may,
  onceAFrame,
  onSubmit,
  pageProblem,
  request,
  signedIn,
  signedOutOfPage,
} from "./page.js";
import { dayAndClock, duration, logClock } from "./time.js";
import { trendsPanel } from "./trends.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const SEVERITIES = [
  ["critical", "Critical"],
  ["warning", "Warning"],
  ["info", "Information"],
];

const OPEL_WORDS = {
  1: "Flow maintained",
  2: "Moderate pressure",
  3: "Severe pressure",
  4: "Extreme pressure",
};

// The measures of flowcentre/domain/measures.py, in a manager's words, with the unit
// their values are read in.
const MEASURES = {
  occupancy_pct: ["Occupancy", "%"],
  available_beds: ["Available beds", ""],
  closed_beds: ["Closed beds", ""],
  no_criteria_to_reside: ["Patients without criteria to reside", ""],
  no_criteria_to_reside_pct: ["Occupied beds without criteria to reside", "%"],
  stranded: ["Stranded patients (7+ days)", ""],
  super_stranded: ["Super-stranded patients (21+ days)", ""],
  super_stranded_pct: ["Occupied beds with super-stranded patients", "%"],
  tasks_outstanding: ["Discharge tasks outstanding", ""],
  discharges_today: ["Discharges today", ""],
  discharges_against_admissions_pct: ["Discharges against admissions, last 24 hours", "%"],
  escalation_beds_pct: ["Open beds that are escalation beds", "%"],
  pending_admissions: ["Patients waiting for a bed", ""],
  longest_pending_hours: ["Longest wait for a bed", " h"],
  queue_length: ["Patients in the queue", ""],
  oldest_wait_hours: ["Oldest wait in the queue", " h"],
  demand_over_capacity: ["Patients waiting beyond free capacity", ""],
  opel_level: ["Level", ""],
};

const NOT_ALLOWED = "This account may not act on alerts.";

const COMPARISONS = { ">": "above", ">=": "at or above", "<": "below", "<=": "at or below" };
// An open alert stays open while its measure still compares so with the clear value.
const CLEARS = { ">": "at or below", ">=": "below", "<": "at or above", "<=": "above" };

// The socket and the API name an OPEL parameter by its id alone, so its words are made
// from the id: the last word says the unit its values are read in.
const PARAMETER_UNITS = { pct: "%", minutes: " min", hours: " h" };
const ABBREVIATIONS = { ed: "ED", resus: "resuscitation" };

const API = "api/v1/alerts";

// What the page shows once the socket has given it the picture.
const SECTIONS = ["summary", "open-alerts", "opel", "trends"];

const picture = {
  organisations: new Map(),
  sites: new Map(),
  wards: new Map(),
  alerts: new Map(),
  opel: new Map(),
};

const clock = logClock();

const account = { id: null, manages: false };

const scheduleRender = onceAFrame(render);
const live = liveLink({ takeSnapshot, applyDeltas, scheduleRender, forget, signedOut });
// The time is read when drawn: `now` is defined further down.
const trends = trendsPanel({
  now: () => now(),
  places: trendPlaces,
  placeName,
  measureName: (measure) => MEASURES[measure]?.[0] ?? measure,
  measured,
  scheduleRender,
});

// --- Time ----------------------------------------------------------------------------------

const now = clock.now;

function moment(iso) {
  return el("time", { datetime: iso }, dayAndClock(new Date(iso)));
}

// A duration that keeps moving: render() brings every one up to date.
function ago(iso) {
  return el("span", { class: "ago", "data-since": iso }, agoText(iso, now()));
}

function agoText(iso, at) {
  return `${duration(at - Date.parse(iso))} ago`;
}

// --- The picture ---------------------------------------------------------------------------

function takeSnapshot(data) {
  picture.sites = new Map(data.sites.map((site) => [site.site_id, site]));
  picture.wards = new Map(data.wards.map((ward) => [ward.ward_id, ward]));
  picture.alerts = new Map((data.alerts ?? []).map((alert) => [alert.alert_id, alert]));
  picture.opel = new Map((data.opel ?? []).map((place) => [place.place, place]));
}

function applyDeltas(deltas) {
  for (const delta of deltas) {
    if (delta.kind === "ward") picture.wards.set(delta.ward.ward_id, delta.ward);
    else if (delta.kind === "site") picture.sites.set(delta.site.site_id, delta.site);
    else if (delta.kind === "organisation") {
      picture.organisations.set(delta.organisation.organisation_id, delta.organisation);
    } else if (delta.kind === "opel") picture.opel.set(delta.opel.place, delta.opel);
    else if (delta.kind === "clock") {
      clock.ticked(delta.clock.at);
      trends.ticked(delta.clock.at);
    } else if (delta.kind === "alert") {
      const alert = delta.alert;
      if (alert.status === "resolved") picture.alerts.delete(alert.alert_id);
      else picture.alerts.set(alert.alert_id, alert);
    }
  }
}

// Nothing of the picture stays on screen for whoever uses the browser next.
function forget() {
  for (const map of Object.values(picture)) map.clear();
  clock.forget();
  cards.clear();
  opelShown.clear();
  trends.forget();
  for (const id of SECTIONS) document.getElementById(id).hidden = true;
  for (const id of ["summary", "alert-groups", "opel-places"]) {
    document.getElementById(id).replaceChildren();
  }
}

// --- Words for places and values -----------------------------------------------------------

function siteName(siteId) {
  return picture.sites.get(siteId)?.name ?? siteId;
}

function scopeName(scope) {
  const id = scope.id;
  if (scope.level === "system") return "Whole system";
  if (scope.level === "site") return siteName(id);
  if (scope.level === "ward") {
    const ward = picture.wards.get(id);
    return ward ? `${ward.name}, ${siteName(ward.site_id)}` : `Ward ${id}`;
  }
  if (scope.level === "pathway") return `Pathway ${id}`;
  if (scope.level === "organisation") return picture.organisations.get(id)?.name ?? id;
  if (scope.level === "specialty") return `${id} wards`;
  return id ?? scope.level;
}

function number(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function measured(measure, value) {
  if (measure === "opel_level") return `OPEL ${value}`;
  const unit = MEASURES[measure]?.[1] ?? "";
  return `${number(value)}${unit}`;
}

function alertTitle(alert) {
  return `${scopeName(alert.scope)}: ${alert.rule.name}`;
}

function placeName(place) {
  return place === "system" ? "Whole system" : siteName(place);
}

// The configuration's names, from the API; until they come, words made of the id.
const parameterNames = new Map();

function parameterWords(id) {
  const words = id.split("_");
  const unit = PARAMETER_UNITS[words.at(-1)];
  if (unit !== undefined) words.pop();
  const made = words.map((word) => ABBREVIATIONS[word] ?? word).join(" ");
  const name = parameterNames.get(id) ?? made.charAt(0).toUpperCase() + made.slice(1);
  return { name, unit: unit ?? "" };
}

// The system, then each acute site by name: OPEL is assessed for those.
function opelPlaces() {
  return [
    "system",
    ...[...picture.sites.values()]
      .filter((site) => site.kind === "acute_hospital" || picture.opel.has(site.site_id))
      .sort((a, b) => byName(a.name, b.name))
      .map((site) => site.site_id),
  ];
}

// The system, then each acute site by name: the trends are sampled for those alone.
function trendPlaces() {
  return opelPlaces().filter(
    (place) => place === "system" || picture.sites.get(place)?.kind === "acute_hospital",
  );
}

// --- The summary ---------------------------------------------------------------------------

function opelBadge(level, extra = "") {
  const known = level !== null && level !== undefined;
  return el(
    "span",
    {
      class: `opel-badge opel-${known ? level : "unknown"} ${extra}`,
      title: known ? OPEL_WORDS[level] : "Nothing to score",
    },
    known ? `OPEL ${level}` : "OPEL unknown",
  );
}

function summaryView(alerts) {
  const item = (label, ...value) => el("div", {}, el("dt", {}, label), el("dd", {}, ...value));
  const counts = SEVERITIES.map(([severity, words]) => {
    const found = alerts.filter((alert) => alert.severity === severity).length;
    return found ? `${found} ${words.toLowerCase()}` : null;
  }).filter(Boolean);
  const unacknowledged = alerts.filter((alert) => alert.status === "open").length;
  return [
    ...opelPlaces().map((place) =>
      item(placeName(place), opelBadge(picture.opel.get(place)?.level ?? null)),
    ),
    item(
      "Open alerts",
      el("span", { class: "count" }, String(alerts.length)),
      counts.length ? el("span", { class: "muted" }, ` (${counts.join(", ")})`) : null,
    ),
    item("Not acknowledged", el("span", { class: "count" }, String(unacknowledged))),
  ];
}

// --- Open alerts ---------------------------------------------------------------------------

function escalationText(alert) {
  const climbed = alert.escalations ?? [];
  if (!climbed.length) {
    return alert.rule.ladder ? "Not escalated yet" : "No escalation ladder";
  }
  const top = climbed.reduce((high, one) => (one.step > high.step ? one : high));
  return [
    `Step ${top.step + 1} of the ${alert.rule.ladder ?? ""} ladder: ${top.notify.join(", ")} told `,
    moment(top.at),
  ];
}

function readingText(alert) {
  const rule = alert.rule;
  const [words] = MEASURES[rule.measure] ?? [rule.measure];
  const clearAt = rule.clear ?? rule.threshold;
  return [
    el("strong", {}, `${words}: ${measured(rule.measure, alert.value)}`),
    `. Raised ${COMPARISONS[rule.comparison] ?? rule.comparison} ${measured(rule.measure, rule.threshold)}`,
    `, clears ${CLEARS[rule.comparison] ?? "at"} ${measured(rule.measure, clearAt)}`,
    rule.hold_minutes ? `, after holding for ${rule.hold_minutes} min` : null,
  ];
}

function countedText(alert) {
  const wards = alert.wards ?? 0;
  const patients = alert.patients ?? 0;
  return `${wards} ${wards === 1 ? "ward" : "wards"}, ${patients} ${patients === 1 ? "patient" : "patients"}`;
}

function acknowledgedText(alert) {
  const stamp = alert.acknowledged;
  if (!stamp) return [el("span", { class: "flag flag-hazard" }, "Not acknowledged")];
  const you = stamp.by.id === account.id ? " (you)" : "";
  return [
    el("span", { class: "flag flag-done" }, "Acknowledged"),
    ` by ${stamp.by.id}${you} `,
    moment(stamp.at),
    alert.note ? el("span", { class: "reason" }, `Note: ${alert.note}`) : null,
  ];
}

function alertFacts(alert) {
  const fact = (label, ...value) => [el("dt", {}, label), el("dd", {}, ...value)];
  return el(
    "dl",
    { class: "alert-facts" },
    fact("Reading", ...readingText(alert)),
    fact("Raised", moment(alert.raised.at), " (", ago(alert.raised.at), ")"),
    fact("Escalation", escalationText(alert)),
    fact("Counted", countedText(alert)),
    fact("Acknowledged", ...acknowledgedText(alert)),
  );
}

function acknowledgeForm(alert) {
  const note = el("input", { name: "note", maxlength: 500, autocomplete: "off" });
  const form = el(
    "form",
    { class: "action", "aria-label": `Acknowledge: ${alertTitle(alert)}` },
    field("Note (optional)", note),
    el("button", { type: "submit" }, "Acknowledge"),
  );
  return onSubmit(form, (button) => {
    const body = note.value.trim() ? { note: note.value.trim() } : {};
    send(alert, "acknowledge", body, button, "Acknowledgement");
  });
}

function resolveForm(alert) {
  const reason = el("input", {
    name: "reason",
    required: true,
    maxlength: 500,
    autocomplete: "off",
  });
  const hint = el(
    "span",
    { class: "muted" },
    "Its rule raises no new alert here until the measure has cleared.",
  );
  const form = el(
    "form",
    { class: "action", "aria-label": `Resolve: ${alertTitle(alert)}` },
    field("Reason for resolving", reason, hint),
    el("button", { type: "submit", class: "secondary" }, "Resolve"),
  );
  return onSubmit(form, (button) =>
    send(alert, "resolve", { reason: reason.value.trim() }, button, "Resolution"),
  );
}

function alertActions(alert) {
  if (!account.manages) return [];
  return [
    alert.status === "open" ? acknowledgeForm(alert) : null,
    el("details", { class: "resolve" }, el("summary", {}, "Resolve by hand…"), resolveForm(alert)),
  ];
}

// Each alert's card is kept while it is open: its facts are drawn again when the alert
// changes, its forms only when its status does, so a live update never wipes what a
// manager is typing.
const cards = new Map();
let cardsMade = 0;

function card(alert) {
  let shown = cards.get(alert.alert_id);
  if (!shown) {
    cardsMade += 1;
    const titleId = `alert-card-${cardsMade}`;
    const title = el("h4", { id: titleId, tabindex: "-1" });
    const badges = el("p", { class: "alert-badges" });
    const facts = el("div");
    const actions = el("div", { class: "alert-actions" });
    const node = el(
      "li",
      { class: "alert-card", "aria-labelledby": titleId },
      el("div", { class: "alert-head" }, title, badges),
      facts,
      actions,
    );
    shown = { node, title, badges, facts, actions, factsKey: null, actionsKey: null };
    cards.set(alert.alert_id, shown);
  }
  const factsKey = JSON.stringify([alert, scopeName(alert.scope), account.id]);
  if (shown.factsKey !== factsKey) {
    shown.factsKey = factsKey;
    shown.node.className = `alert-card severity-${alert.severity}`;
    shown.title.textContent = alertTitle(alert);
    const words = SEVERITIES.find(([severity]) => severity === alert.severity)?.[1];
    shown.badges.replaceChildren(
      el("span", { class: `severity severity-${alert.severity}` }, words ?? alert.severity),
    );
    shown.facts.replaceChildren(alertFacts(alert));
  }
  const actionsKey = JSON.stringify([alert.status, account.manages, scopeName(alert.scope)]);
  if (shown.actionsKey !== actionsKey) {
    const hadFocus = shown.actions.contains(document.activeElement);
    shown.actionsKey = actionsKey;
    shown.actions.replaceChildren(...alertActions(alert).filter(Boolean));
    // The button pressed is gone: the keyboard stays with the alert it acted on.
    if (hadFocus) shown.title.focus();
  }
  return shown.node;
}

function newestFirst(a, b) {
  return Date.parse(b.raised.at) - Date.parse(a.raised.at) || byName(a.alert_id, b.alert_id);
}

// Children replaced only when they differ, so focus and half-filled forms stay put.
function keep(holder, children) {
  const same =
    holder.children.length === children.length &&
    children.every((child, index) => holder.children[index] === child);
  if (!same) holder.replaceChildren(...children);
}

const groups = new Map();

function group(severity) {
  if (!groups.has(severity)) {
    const headingId = `alerts-${severity}`;
    const heading = el("h3", { id: headingId });
    const list = el("ol", { class: "plain alert-list" });
    const node = el(
      "section",
      { class: `alert-group severity-${severity}`, "aria-labelledby": headingId },
      heading,
      list,
    );
    groups.set(severity, { node, heading, list });
  }
  return groups.get(severity);
}

function alertsView(alerts) {
  const holder = document.getElementById("alert-groups");
  for (const id of [...cards.keys()]) {
    if (!picture.alerts.has(id)) {
      // A resolved alert leaves the list; the keyboard goes to the list's heading.
      if (cards.get(id).node.contains(document.activeElement)) {
        document.getElementById("alerts-title").focus();
      }
      cards.delete(id);
    }
  }
  const shown = [];
  for (const [severity, words] of SEVERITIES) {
    const found = alerts.filter((alert) => alert.severity === severity).sort(newestFirst);
    if (!found.length) continue;
    const part = group(severity);
    part.heading.textContent = `${words} (${found.length})`;
    keep(part.list, found.map(card));
    shown.push(part.node);
  }
  if (!shown.length) shown.push(noAlerts);
  keep(holder, shown);
}

const noAlerts = el("p", { class: "empty" }, "No open alerts.");

// --- Acting on an alert --------------------------------------------------------------------

// One request; what became of it said above the list, naming the alert, since a refused
// action's alert may have left the list meanwhile.
async function send(alert, action, body, control, what) {
  const problem = document.getElementById("alert-problem");
  const sent = document.getElementById("alert-sent");
  const title = alertTitle(alert);
  problem.textContent = "";
  sent.textContent = "";
  try {
    const path = `${API}/${encodeURIComponent(alert.alert_id)}/${action}`;
    const { response, answer } = await request("POST", path, body, control);
    if (response.status === 401) {
      problem.textContent = "Your session has ended: sign in again on the whiteboard page.";
    } else if (!response.ok) {
      problem.textContent = `${title}: ${describeProblem(answer, response.status, NOT_ALLOWED)}`;
    } else {
      sent.textContent = `${what} of “${title}” sent: the list shows it as soon as it is recorded.`;
    }
  } catch {
    problem.textContent = `${title}: the change did not reach the server. Check the connection and try again.`;
  }
}

// --- OPEL ----------------------------------------------------------------------------------

// The start of the run of assessments at the current level: when the place reached it.
function levelSince(record) {
  const history = record.history ?? [];
  let since = record.since?.at ?? null;
  for (let index = history.length - 1; index >= 0; index -= 1) {
    if (history[index].level !== record.level) break;
    since = history[index].at;
  }
  return since;
}

function parameterValue(part) {
  if (part.stale) {
    return [
      el("span", { class: "flag flag-late" }, "Stale"),
      el("span", { class: "reason" }, "Too old to count"),
    ];
  }
  if (part.value === null) return [el("span", { class: "none" }, "No value")];
  return [`${number(part.value)}${parameterWords(part.parameter).unit}`];
}

// A reading's time; a derived value is read from the live picture at the assessment.
function measuredCell(part) {
  if (part.measured_at) return moment(part.measured_at);
  return part.value === null ? el("span", { class: "none" }, "None") : "Live picture";
}

// On a phone the table scrolls sideways within itself: it takes the keyboard's focus so
// that it can be scrolled without a pointer.
function parametersTable(record, name) {
  return el(
    "table",
    { class: "counts opel-parameters", tabindex: "0" },
    el("caption", { class: "visually-hidden" }, `Parameters behind the OPEL of ${name}`),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", { scope: "col" }, "Parameter"),
        el("th", { scope: "col" }, "Value"),
        el("th", { scope: "col", class: "num", title: "From 1 to 4" }, "Score"),
        el("th", { scope: "col", class: "num" }, "Weight"),
        el("th", { scope: "col" }, "Measured"),
      ),
    ),
    el(
      "tbody",
      {},
      record.parameters.map((part) =>
        el(
          "tr",
          { class: record.drivers.includes(part.parameter) ? "driver" : null },
          el(
            "th",
            { scope: "row" },
            parameterWords(part.parameter).name,
            record.drivers.includes(part.parameter)
              ? el("span", { class: "flag flag-hazard" }, "Driver")
              : null,
          ),
          el("td", {}, parameterValue(part)),
          el(
            "td",
            { class: `num score score-${part.score ?? "none"}` },
            part.score === null ? "Not scored" : String(part.score),
          ),
          el("td", { class: "num" }, number(part.weight)),
          el("td", {}, measuredCell(part)),
        ),
      ),
    ),
  );
}

// The levels over a window as runs: the level standing at its start (undefined before
// the first assessment; null is an assessment with nothing to score), then each change.
function runs(history, from, to) {
  const points = [...history]
    .map((one) => ({ at: Date.parse(one.at), level: one.level }))
    .sort((a, b) => a.at - b.at);
  let standing = { at: from, level: undefined };
  const changes = [];
  for (const point of points) {
    if (point.at <= from) standing = { at: from, level: point.level };
    else if (point.at < to) changes.push(point);
  }
  const found = [];
  for (const point of [standing, ...changes]) {
    const last = found.at(-1);
    if (last && last.level === point.level) continue;
    if (last) last.until = point.at;
    found.push({ ...point, until: to });
  }
  return found;
}

function runWords(level) {
  if (level === undefined) return "not assessed";
  return level === null ? "OPEL unknown" : `OPEL ${level}`;
}

// A step strip, each run in its level's colour with its number written in it; the words
// of the whole strip are its accessible name.
function levelStrip(history, span, marks, caption, axis) {
  const width = 480;
  const height = 28;
  const to = now();
  const from = to - span;
  const found = runs(history, from, to);
  const x = (at) => ((at - from) / span) * width;
  const shapes = [];
  for (const run of found) {
    const left = x(run.at);
    const size = Math.max(x(run.until) - left, 0.5);
    const kind = run.level === undefined ? "none" : (run.level ?? "unknown");
    const words = `${runWords(run.level)} from ${dayAndClock(new Date(run.at))}`;
    shapes.push(
      svg(
        "rect",
        { class: `strip-${kind}`, x: left, y: 0, width: size, height },
        svg("title", {}, words),
      ),
    );
    if (size >= 16 && run.level) {
      shapes.push(
        svg(
          "text",
          { x: left + size / 2, y: height / 2, class: `strip-label strip-label-${run.level}` },
          String(run.level),
        ),
      );
    }
  }
  for (let mark = 1; mark < marks; mark += 1) {
    const at = (width * mark) / marks;
    shapes.push(svg("line", { class: "strip-mark", x1: at, x2: at, y1: 0, y2: height }));
  }
  const spoken = found
    .map((run, index) =>
      index === 0
        ? `${runWords(run.level)} at the start`
        : `${runWords(run.level)} from ${dayAndClock(new Date(run.at))}`,
    )
    .join(", ");
  return el(
    "figure",
    { class: "opel-strip" },
    el("figcaption", {}, caption),
    svg(
      "svg",
      {
        viewBox: `0 0 ${width} ${height}`,
        role: "img",
        "aria-label": `${caption}: ${spoken}.`,
      },
      ...shapes,
    ),
    el(
      "p",
      { class: "strip-axis", "aria-hidden": "true" },
      axis.map((label) => el("span", {}, label)),
    ),
  );
}

function opelPlace(place, record) {
  const name = placeName(place);
  const headingId = `opel-${place}`;
  const body = [];
  if (!record) {
    body.push(el("p", { class: "opel-level" }, opelBadge(null), " Not assessed yet."));
  } else {
    const since = levelSince(record);
    body.push(
      el(
        "p",
        { class: "opel-level" },
        opelBadge(record.level, "opel-large"),
        el(
          "span",
          { class: "opel-words" },
          record.level === null ? "Nothing to score" : OPEL_WORDS[record.level],
        ),
        since
          ? el("span", { class: "muted" }, " since ", moment(since), " (", ago(since), ")")
          : null,
      ),
      el(
        "p",
        { class: "opel-drivers" },
        `Weighted score ${number(record.share)}% of the most it could be. `,
        record.drivers.length
          ? `Driven by: ${record.drivers.map((id) => parameterWords(id).name).join(", ")}.`
          : "No parameter is above its lowest band.",
      ),
      parametersTable(record, name),
      el(
        "div",
        { class: "opel-history" },
        levelStrip(record.history ?? [], DAY_MS, 4, "Last 24 hours", [
          "24 h ago",
          "12 h ago",
          "Now",
        ]),
        levelStrip(record.history ?? [], 7 * DAY_MS, 7, "Last 7 days", ["7 days ago", "Now"]),
      ),
    );
  }
  return el(
    "section",
    { class: "opel-place", "aria-labelledby": headingId },
    el("h3", { id: headingId }, name),
    body,
  );
}

// Each place drawn again when its record changes, or a minute on, as its charts move.
const opelShown = new Map();

function opelView() {
  const places = opelPlaces();
  const minute = Math.floor(now() / 60_000);
  const nodes = places.map((place) => {
    const record = picture.opel.get(place) ?? null;
    const key = JSON.stringify([record, placeName(place), minute]);
    const shown = opelShown.get(place);
    if (shown?.key === key) return shown.node;
    const node = opelPlace(place, record);
    opelShown.set(place, { key, node });
    return node;
  });
  keep(document.getElementById("opel-places"), nodes);
}

// --- Rendering -----------------------------------------------------------------------------

function render() {
  if (live.cursor === null) return;
  // An alert whose raising has not reached the view yet (its events came out of order)
  // has nothing to show.
  const alerts = [...picture.alerts.values()].filter((alert) => alert.rule && alert.raised);
  for (const id of SECTIONS) document.getElementById(id).hidden = false;
  document.getElementById("summary").replaceChildren(...summaryView(alerts));
  alertsView(alerts);
  opelView();
  trends.render();
  const at = now();
  for (const node of document.querySelectorAll("[data-since]")) {
    const text = agoText(node.dataset.since, at);
    if (node.textContent !== text) node.textContent = text;
  }
}

function signedOut() {
  signedOutOfPage(live);
}

// Which framework the levels follow and what its parameters are called, from the API:
// the socket sends the levels alone.
async function loadFramework() {
  const response = await fetch("api/v1/opel");
  if (!response.ok) return;
  const answer = await response.json();
  for (const parameter of answer.parameters) parameterNames.set(parameter.id, parameter.name);
  scheduleRender();
  document
    .getElementById("opel-note")
    .append(
      " ",
      el(
        "span",
        { class: "muted" },
        `Scored as configured: ${answer.framework} (version ${answer.version}).`,
      ),
    );
}

async function start() {
  const session = await signedIn(signedOut);
  if (session === null) return;
  if (!may(session, "alerts.read")) {
    live.show("refused");
    pageProblem("This account may not see capacity alerts.");
    return;
  }
  account.id = session.account_id;
  account.manages = may(session, "alerts.manage");
  // Without the names the page words the parameters from their ids.
  loadFramework().catch(() => {});
  live.start();
  setInterval(live.watchdog, 1_000);
}

// Keeps the durations and the charts moving when nothing changes.
setInterval(scheduleRender, 30_000);
start();
