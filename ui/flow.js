// The flow centre's glance on the system board: today's discharges against the plan, each
// pathway's queue oldest first with what blocks each patient, and community capacity
// against the patients waiting for it. Drawn from the discharge plans and capacity pools
// the socket sends an account that plans discharges or reads capacity; boards of other
// accounts, a wall screen's among them, are sent neither and show none of it.

import { byName, el, reconcile } from "./dom.js";
import {
  PATHWAYS,
  QUEUE_GROUPS,
  SERVICES,
  blockers,
  free,
  localDay,
  needsPlace,
  openReferral,
} from "./discharge_work.js";
import { duration } from "./time.js";

// The oldest of each queue the board names; the discharge planning page has them all.
const OLDEST_SHOWN = 3;
const MIDDAY = 12;

const header = (text, numeric = false) => el("th", { scope: "col", class: numeric ? "num" : null }, text);
const num = (value) => el("td", { class: "num" }, value);

// Counts of the day per site: { siteId: { discharged, beforeMidday, expected, toGo, overdue } }.
// ``discharges``: plans of patients in hospital (listed) and of those discharged lately.
export function dayCounts(discharges, siteOf, now) {
  const today = localDay(new Date(now));
  const rows = new Map();
  const row = (siteId) => {
    if (!rows.has(siteId)) rows.set(siteId, { discharged: 0, beforeMidday: 0, expected: 0, toGo: 0, overdue: 0 });
    return rows.get(siteId);
  };
  for (const item of discharges) {
    const siteId = siteOf(item.ward_id);
    if (siteId === null) continue;
    const expected = item.expected_discharge_date;
    if (item.listed) {
      if (expected === today) row(siteId).toGo += 1;
      else if (expected !== null && expected < today) row(siteId).overdue += 1;
      if (expected === today) row(siteId).expected += 1;
      continue;
    }
    const left = new Date(item.discharged_at);
    if (localDay(left) !== today) continue;
    const counts = row(siteId);
    counts.discharged += 1;
    if (left.getHours() < MIDDAY) counts.beforeMidday += 1;
    if (expected === today) counts.expected += 1;
  }
  return rows;
}

const dayCells = (counts) => [
  num(counts.discharged),
  num(counts.beforeMidday),
  num(counts.expected),
  num(counts.toGo),
  num(counts.overdue),
];

const dayRow = (name, counts) => el("tr", {}, el("th", { scope: "row" }, name), dayCells(counts));

function dayTable() {
  return el(
    "table",
    { class: "counts day-counts", tabindex: "0" },
    el("caption", { class: "visually-hidden" }, "Discharges today by site, against the expected dates"),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        header("Site"),
        el("th", { scope: "col", class: "num", title: "Discharged since midnight, wherever to" }, "Discharged today"),
        el("th", { scope: "col", class: "num", title: "Of those discharged today, before 12:00" }, "Before midday"),
        el("th", { scope: "col", class: "num", title: "Expected discharge date today, discharged or not" }, "Expected today"),
        el("th", { scope: "col", class: "num", title: "Expected today and still in hospital" }, "Still to go"),
        el("th", { scope: "col", class: "num", title: "In hospital after their expected date" }, "Past their date"),
      ),
    ),
    el("tbody"),
    el("tfoot"),
  );
}

// The day's table, each site's row kept while its counts stay the same.
function dayRows(keep, table, rows, siteName) {
  const sites = [...rows.keys()].sort((a, b) => byName(siteName(a), siteName(b)));
  const total = { discharged: 0, beforeMidday: 0, expected: 0, toGo: 0, overdue: 0 };
  for (const counts of rows.values()) {
    for (const name of Object.keys(total)) total[name] += counts[name];
  }
  const row = (key, name, counts) => keep(`flow:day:${key}`, JSON.stringify([name, counts]), () => dayRow(name, counts));
  reconcile(table.tBodies[0], sites.map((siteId) => row(siteId, siteName(siteId), rows.get(siteId))));
  reconcile(table.tFoot, [row("", "System", total)]);
}

// Each queue, oldest referral first: how many wait, how many of them for a place outside
// hospital, for how long the oldest has, and the oldest few with where they are and what
// blocks them. ``names``: where(item), the ward and bed in words, and delayReason(code).
export function queues(discharges, now, today, names) {
  const groups = new Map(QUEUE_GROUPS.map((group) => [group, []]));
  for (const item of discharges) {
    if (!item.listed) continue;
    const referral = openReferral(item);
    if (referral) groups.get(referral.pathway ?? "untriaged")?.push(item);
  }
  // Each time read once, not at every comparison of the sort.
  const since = (item) => Date.parse(item.referral.in_queue_since ?? item.referral.referred_at);
  return QUEUE_GROUPS.map((group) => {
    const timed = groups.get(group).map((item) => ({ item, since: since(item) }));
    timed.sort((a, b) => a.since - b.since || byName(a.item.spell_id, b.item.spell_id));
    return {
      group,
      waiting: timed.length,
      needingPlace: timed.filter(({ item }) => needsPlace(item, now)).length,
      oldest: timed.slice(0, OLDEST_SHOWN).map(({ item, since: at }) => ({
        initials: item.initials,
        where: names.where(item),
        waited: duration(now - at),
        blockers: blockers(item, now, today, names.delayReason),
      })),
    };
  });
}

function queueItem({ group, waiting, oldest }, patients) {
  return el(
    "li",
    { class: "queue" },
    el(
      "p",
      { class: "queue-head" },
      el("strong", {}, group === "untriaged" ? "Awaiting triage" : PATHWAYS[group]),
      ` · ${waiting} waiting`,
      oldest.length ? ` · oldest ${oldest[0].waited}` : "",
    ),
    patients && oldest.length
      ? el(
          "ol",
          { class: "queue-oldest" },
          oldest.map((one) =>
            el(
              "li",
              {},
              el("span", { class: "initials-small" }, one.initials ?? "Withheld"),
              ` ${one.where}: waiting ${one.waited}`,
              one.blockers.length ? el("span", { class: "blockers" }, ` (${one.blockers.join(", ")})`) : null,
            ),
          ),
        )
      : null,
  );
}

// Per pathway needing capacity: the places free from today by service, against the
// patients waiting for a place of the pathway.
export function capacityRows(pools, queueRows, now, today) {
  const waiting = new Map(queueRows.map((row) => [row.group, row.needingPlace]));
  const rows = [];
  for (const pathway of ["1", "2", "3"]) {
    const byService = new Map();
    for (const pool of pools) {
      if (pool.pathway !== pathway || !pool.declared_at || pool.day < today) continue;
      byService.set(pool.service, (byService.get(pool.service) ?? 0) + Math.max(free(pool, now), 0));
    }
    const services = [...byService.entries()].sort((a, b) => byName(a[0], b[0]));
    const places = services.reduce((sum, [, count]) => sum + count, 0);
    rows.push({ pathway, services, places, waiting: waiting.get(pathway) ?? 0 });
  }
  return rows;
}

function capacityTable() {
  return el(
    "table",
    { class: "counts capacity-counts", tabindex: "0" },
    el("caption", { class: "visually-hidden" }, "Community and social care places free from today, by pathway"),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        header("Pathway"),
        header("Places free from today"),
        header("Free", true),
        el("th", { scope: "col", class: "num", title: "Triaged onto the pathway, with no place reserved" }, "Waiting"),
      ),
    ),
    el("tbody"),
  );
}

function capacityRow({ pathway, services, places, waiting }) {
  return el(
    "tr",
    {},
    el("th", { scope: "row" }, `Pathway ${pathway}`),
    el(
      "td",
      {},
      services.length
        ? services.map(([service, count]) => `${SERVICES[service] ?? service} ${count}`).join(" · ")
        : "None declared",
    ),
    num(places),
    el(
      "td",
      { class: `num${waiting > places ? " short" : ""}` },
      waiting,
      waiting > places ? el("span", { class: "flag flag-hazard" }, `short by ${waiting - places}`) : null,
    ),
  );
}

// The glance's sections, each kept while its inputs (a string) stay the same: ``keep`` is
// the board's keeper; ``names``: { siteName(siteId), siteOf(wardId), where(item),
// delayReason(code) }.
export function flowSections(keep, { discharges, pools, patients }, names, now) {
  const today = localDay(new Date(now));
  const sections = [];
  // A part's heading and frame stay; of what is in it, each row or queue is kept while
  // what it shows stays the same, so a change to one plan redraws what it changed.
  const section = (id, title, draw) =>
    keep(`flow:${id}`, "", () =>
      el("section", { class: "flow-part", "aria-labelledby": `flow-${id}` }, el("h3", { id: `flow-${id}` }, title), draw()),
    );
  const queueRows = queues(discharges, now, today, names);
  if (discharges.length) {
    const day = section("today", "Discharges today", dayTable);
    dayRows(keep, day.lastChild, dayCounts(discharges, names.siteOf, now), names.siteName);
    sections.push(day);
    const queued = section("queues", "Pathway queues, oldest first", () => [
      el("ul", { class: "queues" }),
      el("p", {}, el("a", { href: "discharges.html" }, "Every patient in the queues")),
    ]);
    reconcile(
      queued.querySelector(".queues"),
      queueRows.map((row) => keep(`flow:queue:${row.group}`, JSON.stringify([row, patients]), () => queueItem(row, patients))),
    );
    sections.push(queued);
  }
  if (pools.length) {
    const capacity = section("capacity", "Community and social care capacity", capacityTable);
    reconcile(
      capacity.lastChild.tBodies[0],
      capacityRows(pools, queueRows, now, today).map((row) =>
        keep(`flow:capacity:${row.pathway}`, JSON.stringify(row), () => capacityRow(row)),
      ),
    );
    sections.push(capacity);
  }
  if (!sections.length) return [];
  const holder = keep("flow:holder", "", () =>
    el(
      "section",
      { class: "flow", "aria-labelledby": "flow-heading" },
      el("h2", { id: "flow-heading" }, "Discharges and community capacity"),
      el("div", { class: "flow-parts" }),
    ),
  );
  reconcile(holder.lastChild, sections);
  return [holder];
}
