// The whiteboard: a snapshot of every site, ward and bed from the socket, kept live by the
// deltas that follow it. Views are built from that one picture, so switching between the
// system and a ward needs no request, and a reconnect resumes from the last cursor.

import { bedStatusChanges } from "./bed_status.js";
import { twoTapChanges } from "./changes.js";
import { localDay } from "./discharge_work.js";
import { byName, el, keeper, reconcile } from "./dom.js";
import { liveLink } from "./live.js";
import { flowSections } from "./flow.js";
import { calendarDay, planChanges } from "./plans.js";
import { dayAndClock, duration, logClock } from "./time.js";

const STATE_LABELS = {
  available: "Available",
  occupied: "Occupied",
  awaiting_clean: "Awaiting clean",
  cleaning: "Being cleaned",
  contaminated: "Contaminated",
  isolated: "Isolated",
  reserved: "Reserved",
  blocked: "Blocked",
  closed: "Closed",
};

const OPEL_WORDS = {
  1: "Flow maintained",
  2: "Moderate pressure",
  3: "Severe pressure",
  4: "Extreme pressure",
};

// A display board is sent each alert as a token with its status and severity, and each
// place's OPEL level alone: enough for the counts and levels it shows, and nothing more.
const picture = {
  sites: new Map(),
  wards: new Map(),
  beds: new Map(),
  alerts: new Map(),
  opel: new Map(),
  // Discharge plans by spell, on the wards this account plans: of the patients in hospital
  // (listed), and of those discharged lately, for the day's count.
  discharges: new Map(),
  // Community capacity pools by key, to accounts that read capacity.
  pools: new Map(),
};

// The signed-in account: whether it may open the capacity alerts page, which the alert
// count links to; its grants, which say on which wards it may set beds' states; and
// whether it is a wall screen's (its only role the display's).
const account = { alerts: false, grants: [], display: false, delayReasons: new Map() };

// A wall screen's address may name several views to show in turn, each for so long:
// #/wall?views=ward/WRH-AVON4,site/WRH&seconds=30.
const WALL_SECONDS = 30;
const WALL_SECONDS_LEAST = 5;

const live = liveLink({ takeSnapshot, applyDeltas, scheduleRender, forget, signedOut });
const keep = keeper();
const clock = logClock();
const changes = twoTapChanges(scheduleRender);
const bedChanges = bedStatusChanges(changes);
const plans = planChanges(changes, () => localDay(new Date(clock.now())));

// --- The picture ---------------------------------------------------------------------------

function takeSnapshot(data) {
  picture.sites = new Map(data.sites.map((site) => [site.site_id, site]));
  picture.wards = new Map(data.wards.map((ward) => [ward.ward_id, ward]));
  picture.beds = new Map();
  bedsByWard.clear();
  wardCounted.clear();
  layout = null;
  for (const bed of data.beds) putBed(bed);
  picture.alerts = new Map((data.alerts ?? []).map((alert) => [alert.alert_id, alert]));
  picture.opel = new Map((data.opel ?? []).map((place) => [place.place, place]));
  picture.discharges = new Map();
  for (const plan of data.discharges ?? []) takePlan(plan);
  picture.pools = new Map((data.capacity ?? []).map((pool) => [pool.key, pool]));
  changes.snapshotTaken();
  flowInputs += 1;
  if (picture.discharges.size && !account.delayReasons.size) loadDelayReasons();
}

// Deltas that change what the flow centre's glance shows.
const FLOW_KINDS = new Set(["discharge", "capacity", "ward", "site"]);

// A day and a half of discharges is enough to count today's wherever the board is.
const DISCHARGES_KEPT_MS = 36 * 3_600_000;

function takePlan(plan) {
  if (plan.listed || plan.discharged_at) picture.discharges.set(plan.spell_id, plan);
  else picture.discharges.delete(plan.spell_id);
  if (plan.listed) return;
  const since = Date.parse(plan.discharged_at) - DISCHARGES_KEPT_MS;
  for (const [spellId, kept] of picture.discharges) {
    if (!kept.listed && Date.parse(kept.discharged_at) < since) picture.discharges.delete(spellId);
  }
}

function applyDeltas(deltas, eventId) {
  for (const delta of deltas) {
    if (delta.kind === "bed") putBed(delta.bed);
    else if (delta.kind === "ward") {
      picture.wards.set(delta.ward.ward_id, delta.ward);
      layout = null;
    } else if (delta.kind === "site") {
      picture.sites.set(delta.site.site_id, delta.site);
      layout = null;
    }
    else if (delta.kind === "opel") picture.opel.set(delta.opel.place, delta.opel);
    else if (delta.kind === "clock") clock.ticked(delta.clock.at);
    else if (delta.kind === "discharge") takePlan(delta.discharge);
    else if (delta.kind === "capacity") picture.pools.set(delta.capacity.key, delta.capacity);
    else if (delta.kind === "alert") {
      const alert = delta.alert;
      if (alert.status === "resolved") picture.alerts.delete(alert.alert_id);
      else picture.alerts.set(alert.alert_id, alert);
    }
  }
  const subjects = [];
  if (deltas.some((delta) => FLOW_KINDS.has(delta.kind))) flowInputs += 1;
  for (const delta of deltas) {
    if (delta.kind === "bed") subjects.push(`bed:${delta.bed.bed_id}`);
    else if (delta.kind === "discharge") subjects.push(`plan:${delta.discharge.spell_id}`);
  }
  changes.heard(eventId, subjects);
}

// Same rules as the server's bed counts: registered beds only; closed includes blocked.
function countBeds(beds) {
  const counts = { total: 0, occupied: 0, available: 0, toClean: 0, closed: 0 };
  for (const bed of beds) {
    if (!bed.registered) continue;
    counts.total += 1;
    if (bed.state === "occupied") counts.occupied += 1;
    else if (bed.state === "available") counts.available += 1;
    else if (bed.state === "awaiting_clean" || bed.state === "cleaning") counts.toClean += 1;
    else if (bed.state === "closed" || bed.state === "blocked") counts.closed += 1;
  }
  const open = counts.total - counts.closed;
  counts.occupancy = open > 0 ? Math.round((1000 * counts.occupied) / open) / 10 : null;
  return counts;
}

// Beds by ward, kept as beds change, and each ward's counts until one of its beds
// changes: a change to one bed is counted without going through the county's.
const bedsByWard = new Map(); // ward_id -> Map(bed_id -> bed)
const wardCounted = new Map(); // ward_id -> counts

function putBed(bed) {
  const before = picture.beds.get(bed.bed_id);
  if (before && before.ward_id !== bed.ward_id) {
    bedsByWard.get(before.ward_id)?.delete(bed.bed_id);
    wardCounted.delete(before.ward_id);
  }
  picture.beds.set(bed.bed_id, bed);
  if (!bedsByWard.has(bed.ward_id)) bedsByWard.set(bed.ward_id, new Map());
  bedsByWard.get(bed.ward_id).set(bed.bed_id, bed);
  wardCounted.delete(bed.ward_id);
}

function bedsOfWard(wardId) {
  return [...(bedsByWard.get(wardId)?.values() ?? [])];
}

function wardCounts(wardId) {
  if (!wardCounted.has(wardId)) wardCounted.set(wardId, countBeds(bedsOfWard(wardId)));
  return wardCounted.get(wardId);
}

// Counts of several wards together, as countBeds would give over all their beds.
function together(counted) {
  const counts = { total: 0, occupied: 0, available: 0, toClean: 0, closed: 0 };
  for (const one of counted) {
    for (const name of Object.keys(counts)) counts[name] += one[name];
  }
  const open = counts.total - counts.closed;
  counts.occupancy = open > 0 ? Math.round((1000 * counts.occupied) / open) / 10 : null;
  return counts;
}

// The sites in name order, each with its wards in name order, until a site or ward changes.
let layout = null;

function sitesAndWards() {
  if (layout !== null) return layout;
  const wardsBySite = new Map();
  for (const ward of picture.wards.values()) {
    if (!wardsBySite.has(ward.site_id)) wardsBySite.set(ward.site_id, []);
    wardsBySite.get(ward.site_id).push(ward);
  }
  for (const wards of wardsBySite.values()) wards.sort((a, b) => byName(a.name, b.name));
  const siteIds = [...wardsBySite.keys()].sort((a, b) =>
    byName(picture.sites.get(a)?.name ?? a, picture.sites.get(b)?.name ?? b),
  );
  layout = { siteIds, wardsBySite };
  return layout;
}

// --- Views ---------------------------------------------------------------------------------

function opelBadge(place) {
  const level = picture.opel.get(place)?.level ?? null;
  const known = level !== null;
  return el(
    "span",
    {
      class: `opel-badge opel-${known ? level : "unknown"}`,
      title: known ? OPEL_WORDS[level] : "Not assessed, or nothing to score",
    },
    known ? `OPEL ${level}` : "OPEL unknown",
  );
}

// The pressure a board shows beside its beds: the system's OPEL, the site's, and how many
// alerts are open; which alerts, and where, are on the managers' page.
function pressure(siteIds) {
  const item = (label, value) => el("div", {}, el("dt", {}, label), el("dd", {}, value));
  const open = picture.alerts.size;
  const count = open ? `${open} open` : "None open";
  return el(
    "dl",
    { class: "pressure", "aria-label": "Pressure" },
    item("Whole system", opelBadge("system")),
    siteIds
      .filter(
        (siteId) =>
          picture.opel.has(siteId) || picture.sites.get(siteId)?.kind === "acute_hospital",
      )
      .map((siteId) => item(picture.sites.get(siteId)?.name ?? siteId, opelBadge(siteId))),
    item(
      "Capacity alerts",
      account.alerts && !drawingWall
        ? el("a", { href: "alerts.html", class: "alert-count" }, count)
        : el("span", { class: "alert-count" }, count),
    ),
  );
}

const opelLevels = () => [...picture.opel.values()].map((place) => [place.place, place.level]);
const pressureInputs = (levels) =>
  JSON.stringify([levels, picture.alerts.size, account.alerts, drawingWall]);

// Above 85% problems grow quickly; 92% is the usual ceiling. Each is marked in a symbol
// and, for a screen reader, in words, as well as in colour.
function occupancyCell(pct) {
  if (pct === null) return el("td", { class: "num" }, "–");
  const level = pct >= 92 ? "critical" : pct >= 85 ? "high" : "normal";
  const words = { critical: "above 92%", high: "above 85%", normal: null }[level];
  return el(
    "td",
    { class: `num occupancy occupancy-${level}`, title: words },
    `${pct.toFixed(1)}%`,
    words ? el("span", { "aria-hidden": "true" }, level === "critical" ? " ▲▲" : " ▲") : null,
    words ? el("span", { class: "visually-hidden" }, ` (${words})`) : null,
  );
}

function countCells(counts) {
  return [
    el("td", { class: "num" }, counts.occupied),
    el("td", { class: "num" }, counts.available),
    el("td", { class: "num" }, counts.toClean),
    el("td", { class: "num" }, counts.closed),
    el("td", { class: "num" }, counts.total),
    occupancyCell(counts.occupancy),
  ];
}

function countHeaders(firstColumn) {
  return el(
    "tr",
    {},
    el("th", { scope: "col" }, firstColumn),
    el("th", { scope: "col", class: "num" }, "Occupied"),
    el("th", { scope: "col", class: "num" }, "Available"),
    el("th", { scope: "col", class: "num", title: "Awaiting clean or being cleaned" }, "To clean"),
    el("th", { scope: "col", class: "num", title: "Closed or blocked" }, "Closed"),
    el("th", { scope: "col", class: "num" }, "Beds"),
    el("th", { scope: "col", class: "num", title: "Occupied as a share of open beds" }, "Occupancy"),
  );
}

function tiles(counts) {
  const tile = (label, value, extra = "") =>
    el("div", { class: `tile ${extra}` }, el("dt", {}, label), el("dd", {}, value));
  return el(
    "dl",
    { class: "tiles" },
    tile("Occupied", counts.occupied),
    tile("Available", counts.available, "tile-available"),
    tile("To clean", counts.toClean, "tile-clean"),
    tile("Closed", counts.closed, "tile-closed"),
    tile("Occupancy", counts.occupancy === null ? "–" : `${counts.occupancy.toFixed(1)}%`),
  );
}

const wardHref = (wardId) => `#/ward/${encodeURIComponent(wardId)}`;
const siteHref = (siteId) => `#/site/${encodeURIComponent(siteId)}`;

function wardRow(ward, counts) {
  return el(
    "tr",
    {},
    el(
      "th",
      { scope: "row" },
      el("a", { href: wardHref(ward.ward_id), "data-focus-key": `ward:${ward.ward_id}` }, ward.name),
      el("span", { class: "specialty" }, ward.specialty),
    ),
    countCells(counts),
  );
}

const totalRow = (total) => el("tr", {}, el("th", { scope: "row" }, "Site total"), countCells(total));

// A site's wards, a row each with its beds counted ({ ward, counts }), and the site's total.
function wardTable(siteName, rows, total) {
  return el(
    "table",
    { class: "counts" },
    el("caption", { class: "visually-hidden" }, `Beds by ward at ${siteName}`),
    el("thead", {}, countHeaders("Ward")),
    el("tbody", {}, rows.map(({ ward, counts }) => wardRow(ward, counts))),
    el("tfoot", {}, totalRow(total)),
  );
}

function systemView() {
  const { siteIds, wardsBySite } = sitesAndWards();
  const siteTotals = [];
  const sections = siteIds.map((siteId) => {
    const site = picture.sites.get(siteId);
    const siteName = site?.name ?? `Site ${siteId}`;
    const wards = wardsBySite.get(siteId);
    const rows = wards.map((ward) => ({ ward, counts: wardCounts(ward.ward_id) }));
    const total = together(rows.map((row) => row.counts));
    siteTotals.push(total);
    const level = picture.opel.has(siteId) ? (picture.opel.get(siteId).level ?? "unknown") : null;
    const headingId = `site-${siteId}`;
    // A site's table stays, and of it every row whose ward's counts did not change: one
    // bed's change redraws its ward's row and the site's total (see reconcile).
    const section = keep(`site:${siteId}`, JSON.stringify([siteName, level]), () =>
      el(
        "section",
        { class: "site", "aria-labelledby": headingId },
        el(
          "h2",
          { id: headingId, class: "site-heading" },
          el("a", { href: siteHref(siteId), "data-focus-key": `site:${siteId}` }, siteName),
          level !== null ? opelBadge(siteId) : null,
        ),
        wardTable(siteName, [], total),
      ),
    );
    const table = section.lastChild;
    reconcile(
      table.tBodies[0],
      rows.map(({ ward, counts }) =>
        keep(`ward-row:${ward.ward_id}`, JSON.stringify([ward, counts]), () => wardRow(ward, counts)),
      ),
    );
    reconcile(table.tFoot, [keep(`site-total:${siteId}`, JSON.stringify(total), () => totalRow(total))]);
    return section;
  });

  const counts = together(siteTotals);
  const levels = opelLevels();
  return [
    keep("system:heading", "", () => el("h1", { tabindex: "-1" }, "All sites")),
    keep("system:pressure", pressureInputs(levels), () => pressure([])),
    keep("system:tiles", JSON.stringify(counts), () => tiles(counts)),
    flowGlance(clock.now()),
    sections.length ? sections : el("p", { class: "empty" }, "No wards are registered yet."),
  ];
}

// The glance changes with the plans, the pools and the places they name, and with the
// minute (its waits and its day): it is worked out again only then, not on every bed.
let flowInputs = 0;
let flowDrawn = { key: null, parts: [] };

function flowGlance(now) {
  const key = `${flowInputs}:${Math.floor(now / 60_000)}:${drawingWall}`;
  if (flowDrawn.key !== key) {
    flowDrawn = { key, parts: flowSections(keep, flowData(), flowNames(), now) };
  }
  return flowDrawn.parts;
}

// What the flow centre's glance is drawn from; a wall names no patient in it.
const flowData = () => ({
  discharges: [...picture.discharges.values()],
  pools: [...picture.pools.values()],
  patients: !drawingWall,
});

function flowNames() {
  const siteName = (siteId) => picture.sites.get(siteId)?.name ?? siteId;
  const wardName = (wardId) => picture.wards.get(wardId)?.name ?? wardId;
  return {
    siteName,
    delayReason: (code) => account.delayReasons.get(code) ?? code,
    siteOf: (wardId) => picture.wards.get(wardId)?.site_id ?? null,
    where: (item) =>
      `${wardName(item.ward_id)}, ${item.bed_id ? (picture.beds.get(item.bed_id)?.label ?? item.bed_id) : "no bed"}`,
  };
}

const DAY_MS = 86_400_000;

const stayDays = (admittedAt, now) => Math.max(0, Math.floor((now - Date.parse(admittedAt)) / DAY_MS));

// Days in hospital, flagged in words at 7 and 21 days (stranded and super-stranded).
function lengthOfStay(days) {
  const flag = days >= 21 ? "21+ days" : days >= 7 ? "7+ days" : null;
  return el(
    "span",
    { class: "stay", title: "Length of stay" },
    `${days} ${days === 1 ? "day" : "days"}`,
    flag ? el("span", { class: `flag ${days >= 21 ? "flag-hazard" : "flag-long"}` }, flag) : null,
  );
}

function maySetBeds(wardId) {
  return account.grants.some(
    (grant) =>
      grant.permissions.includes("bed.status.set") &&
      (grant.wards === null || grant.wards.includes(wardId)),
  );
}

// A bed's card, drawn again only when what it shows changes; how long ago its state
// began is brought up to date in place (refreshAges). ``bedPlans``: the discharge plans of
// the bed's patients, when the board shows them.
function bedCard(stored, bedPlans, now, changeable) {
  const bed = bedChanges.shown(stored);
  const days = (bed.occupants ?? []).map((one) => (one.admitted_at ? stayDays(one.admitted_at, now) : null));
  const sinceText = bed.since ? dayAndClock(new Date(bed.since.at)) : null;
  const controls = changeable && stored.registered;
  const shownPlans = bedPlans.map((plan) => ({ stored: plan, plan: plans.shown(plan) }));
  const inputs = JSON.stringify([
    bed,
    days,
    sinceText,
    controls && bedChanges.drawnWith(bed.bed_id),
    shownPlans.length && localDay(new Date(now)),
    shownPlans.map(({ plan }) => [plan, plans.drawnWith(plan)]),
  ]);
  return keep(`bed:${bed.bed_id}`, inputs, () =>
    drawBedCard(stored, bed, days, sinceText, controls, shownPlans, now),
  );
}

function drawBedCard(stored, bed, days, sinceText, controls, shownPlans, now) {
  const occupants = bed.occupants ?? [];
  const label = STATE_LABELS[bed.state] ?? bed.state;
  const details = [];
  for (const [index, occupant] of occupants.entries()) {
    details.push(
      el(
        "p",
        { class: "occupant" },
        occupant.initials === null
          ? el("span", { class: "initials withheld", title: "The patient objects to sharing" }, "Withheld")
          : el("span", { class: "initials", title: "Patient initials" }, occupant.initials),
        occupant.initials !== null && occupant.sharing_objection
          ? el("span", { class: "flag" }, "Do not share")
          : null,
        occupant.on_leave ? el("span", { class: "flag" }, "On leave") : null,
        // A plan, when shown, has the date staff change from the card.
        occupant.expected_discharge_date && !shownPlans.length
          ? el("span", { class: "edd" }, `EDD ${calendarDay(occupant.expected_discharge_date)}`)
          : null,
        days[index] === null ? null : lengthOfStay(days[index]),
      ),
    );
  }
  for (const { plan } of shownPlans) details.push(el("div", { class: "bed-plan" }, plans.facts(plan, now)));
  if (bed.conflict) {
    details.push(el("p", { class: "warning" }, "More than one patient recorded in this bed"));
  }
  if (bed.status_reason && bed.state !== "occupied") {
    details.push(el("p", { class: "reason" }, bed.status_reason));
  }
  return el(
    "li",
    { class: `bed state-${bed.state}${bed.pending ? " pending" : ""}` },
    el(
      "p",
      { class: "bed-head" },
      el("span", { class: "bed-label" }, bed.label),
      bed.side_room ? el("span", { class: "flag" }, "Side room") : null,
    ),
    el(
      "p",
      { class: "bed-state" },
      label,
      bed.pending ? el("span", { class: "flag flag-pending" }, "Saving") : null,
      // Occupancy outranks every status in the state, but isolation still matters.
      bed.state === "occupied" && bed.status === "isolated"
        ? el("span", { class: "flag flag-hazard" }, "Isolation")
        : null,
    ),
    details,
    sinceText
      ? el(
          "p",
          { class: "since" },
          "Since ",
          el("time", { datetime: bed.since.at }, sinceText),
          " ",
          el("span", { "data-since": bed.since.at }, ago(bed.since.at, now)),
        )
      : null,
    shownPlans.map(({ stored: plan }) => plans.control(plan, bed)),
    controls ? bedChanges.control(stored) : null,
  );
}

const ago = (iso, now) => `(${duration(now - Date.parse(iso))})`;

// Brings every "since" duration drawn in ``root`` up to ``now`` without redrawing its card.
function refreshAges(root, now) {
  for (const span of root.querySelectorAll("[data-since]")) {
    const text = ago(span.dataset.since, now);
    if (span.textContent !== text) span.textContent = text;
  }
}

function notFound(what, id) {
  return [
    el("h1", { tabindex: "-1" }, `${what} not found`),
    el("p", {}, `No ${what.toLowerCase()} with the id “${id}” is registered. `, el("a", { href: "#/" }, "All sites")),
  ];
}

// The beds a patient could go to now, side rooms first: what a coordinator asked for a
// bed looks for.
function freeBeds(beds) {
  const free = beds.filter((bed) => bed.registered && bed.state === "available");
  free.sort(
    (a, b) =>
      Number(b.side_room) - Number(a.side_room) ||
      byName(picture.wards.get(a.ward_id)?.name ?? a.ward_id, picture.wards.get(b.ward_id)?.name ?? b.ward_id) ||
      byName(a.label, b.label),
  );
  if (!free.length) return el("p", { class: "empty" }, "No bed is free on this site now.");
  const header = (text) => el("th", { scope: "col" }, text);
  return el(
    "table",
    { class: "counts free-beds" },
    el("caption", { class: "visually-hidden" }, "Free beds, side rooms first"),
    el("thead", {}, el("tr", {}, ["Bed", "Ward", "Bay or room", "Side room", "Free since"].map(header))),
    el(
      "tbody",
      {},
      free.map((bed) => {
        const ward = picture.wards.get(bed.ward_id);
        const sex = ward && ward.sex !== "mixed" ? `${ward.sex} ward` : null;
        return el(
          "tr",
          {},
          el("th", { scope: "row" }, el("a", { href: wardHref(bed.ward_id) }, bed.label)),
          el("td", {}, ward?.name ?? bed.ward_id, sex ? el("span", { class: "specialty" }, sex) : null),
          el("td", {}, bed.room ?? "–"),
          el("td", {}, bed.side_room ? "Side room" : "–"),
          el("td", {}, bed.since ? el("time", { datetime: bed.since.at }, dayAndClock(new Date(bed.since.at))) : "–"),
        );
      }),
    ),
  );
}

function siteView(siteId) {
  const site = picture.sites.get(siteId);
  if (!site) return notFound("Site", siteId);
  const wards = sitesAndWards().wardsBySite.get(siteId) ?? [];
  const beds = wards.flatMap((ward) => bedsOfWard(ward.ward_id));
  const rows = wards.map((ward) => ({ ward, counts: wardCounts(ward.ward_id) }));
  const section = (id, title, ...content) =>
    el("section", { class: "site", "aria-labelledby": id }, el("h2", { id }, title), content);
  return [
    el("h1", { tabindex: "-1" }, site.name),
    pressure([siteId]),
    tiles(countBeds(beds)),
    section("free-beds", "Free beds", freeBeds(beds)),
    section("site-wards", "Wards", wardTable(site.name, rows, countBeds(beds))),
  ];
}

function wardView(wardId, controls) {
  const ward = picture.wards.get(wardId);
  if (!ward) return notFound("Ward", wardId);
  const site = picture.sites.get(ward.site_id);
  const beds = bedsOfWard(wardId).filter((bed) => bed.registered || bed.occupants.length);
  const rooms = new Map();
  for (const bed of beds) {
    const room = bed.registered ? (bed.room ?? "Other beds") : "Not on the bed register";
    if (!rooms.has(room)) rooms.set(room, []);
    rooms.get(room).push(bed);
  }
  const now = clock.now();
  const changeable = controls && maySetBeds(wardId);
  // Plans are for those who work on them, not for a wall across the room.
  const plansByBed = new Map();
  if (controls) {
    for (const plan of picture.discharges.values()) {
      if (!plan.listed || plan.ward_id !== wardId || plan.bed_id === null) continue;
      if (!plansByBed.has(plan.bed_id)) plansByBed.set(plan.bed_id, []);
      plansByBed.get(plan.bed_id).push(plan);
    }
  }
  // Rooms and cards that did not change stay where they are, focus and all (reconcile).
  const groups = [...rooms.keys()].sort(byName).map((room, index) => {
    const headingId = `room-${index}`;
    const roomBeds = rooms.get(room).sort((a, b) => byName(a.label, b.label));
    const section = keep(`room:${wardId}:${room}`, headingId, () =>
      el(
        "section",
        { class: "room", "aria-labelledby": headingId },
        el("h2", { id: headingId }, room),
        el("ul", { class: "beds" }),
      ),
    );
    reconcile(
      section.lastChild,
      roomBeds.map((bed) => bedCard(bed, plansByBed.get(bed.bed_id) ?? [], now, changeable)),
    );
    return section;
  });
  const facts = [site?.name, ward.specialty, ward.sex === "mixed" ? null : `${ward.sex} ward`]
    .filter(Boolean)
    .join(" · ");
  const counts = countBeds(beds);
  const part = (name, inputs, draw) => keep(`ward:${wardId}:${name}`, inputs, draw);
  return [
    part("heading", ward.name, () => el("h1", { tabindex: "-1" }, ward.name)),
    part("facts", facts, () => el("p", { class: "ward-facts" }, facts)),
    part("pressure", pressureInputs(opelLevels()), () => pressure([ward.site_id])),
    part("tiles", JSON.stringify(counts), () => tiles(counts)),
    changeable || plansByBed.size
      ? part("last", changes.lastChangeDrawnWith(wardId), () => changes.lastChange(wardId))
      : null,
    groups.length ? groups : el("p", { class: "empty" }, "No beds are registered on this ward."),
  ];
}

// --- Routing and rendering -----------------------------------------------------------------

function route(hash = location.hash) {
  const wall = /^#\/wall(?:\?(.*))?$/.exec(hash);
  if (wall) {
    const asked = new URLSearchParams(wall[1] ?? "");
    const views = (asked.get("views") ?? "")
      .split(",")
      .filter(Boolean)
      .map((one) => route(`#/${one}`));
    if (!views.length) views.push({ view: "system" });
    const seconds = Math.max(WALL_SECONDS_LEAST, Number(asked.get("seconds")) || WALL_SECONDS);
    // Turned by the clock, so the screens of a room turn together and a redraw keeps its turn.
    const turn = Math.floor(Date.now() / (seconds * 1000)) % views.length;
    return { ...views[turn], wall: { turn, of: views.length } };
  }
  const ward = /^#\/ward\/(.+)$/.exec(hash);
  if (ward) return { view: "ward", wardId: decodeURIComponent(ward[1]) };
  const site = /^#\/site\/(.+)$/.exec(hash);
  if (site) return { view: "site", siteId: decodeURIComponent(site[1]) };
  return { view: "system" };
}

// A wall screen shows no controls, whoever's session it holds.
const onWall = (current) => current.wall !== undefined || account.display;
// Whether the board being drawn is on a wall: set by render before it draws.
let drawingWall = false;

function crumbs(current) {
  const items = [el("li", {}, el("a", { href: "#/" }, "All sites"))];
  const here = (name) => el("li", {}, el("span", { "aria-current": "page" }, name));
  const siteName = (siteId) => picture.sites.get(siteId)?.name ?? siteId;
  if (current.view === "site") items.push(here(siteName(current.siteId)));
  if (current.view === "ward") {
    const ward = picture.wards.get(current.wardId);
    if (ward) items.push(el("li", {}, el("a", { href: siteHref(ward.site_id) }, siteName(ward.site_id))));
    items.push(here(ward?.name ?? current.wardId));
  }
  return items;
}

// What the address asks for: the view's content and its name for the window's title.
function viewOf(current) {
  const turn = current.wall && current.wall.of > 1
    ? el("p", { class: "wall-turn" }, `View ${current.wall.turn + 1} of ${current.wall.of}`)
    : null;
  if (current.view === "ward") {
    const content = wardView(current.wardId, !onWall(current));
    return { content: [...content, turn], title: picture.wards.get(current.wardId)?.name };
  }
  if (current.view === "site") {
    return { content: [...siteView(current.siteId), turn], title: picture.sites.get(current.siteId)?.name };
  }
  return { content: [...systemView(), turn], title: null };
}

let renderQueued = false;
let renderedRoute = null;
let shownTurn = null;
let crumbsDrawn = null;

function render() {
  // Timed for `flowcentre bench` as "fc:render" (User Timing: see live.js), up to the first
  // task after the frame this render is drawn in, so the browser's style, layout and paint
  // of it count too.
  const began = performance.now();
  renderQueued = false;
  if (live.cursor === null) return;
  const current = route();
  const main = document.getElementById("main");
  // The board is drawn again on every change: the keyboard's place must survive it.
  const focused = document.activeElement?.closest("[data-focus-key]")?.dataset.focusKey;
  drawingWall = onWall(current);
  const { content, title } = viewOf(current);
  document.documentElement.classList.toggle("wall", drawingWall);
  document.documentElement.classList.toggle("wall-screen", account.display);
  shownTurn = current.wall?.turn ?? null;
  reconcile(main, content.flat().filter((part) => part !== null));
  refreshAges(main, clock.now());
  const trail = crumbs(current);
  const crumbsOf = JSON.stringify(trail.map((item) => item.textContent));
  if (crumbsOf !== crumbsDrawn) {
    document.getElementById("crumbs").replaceChildren(...trail);
    crumbsDrawn = crumbsOf;
  }
  changes.keepFocus(focused);
  document.title = title ? `${title} – Flow Centre` : "Flow Centre whiteboard";
  const key = location.hash;
  if (renderedRoute !== null && renderedRoute !== key) main.querySelector("h1")?.focus();
  renderedRoute = key;
  setTimeout(() => performance.measure("fc:render", { start: began }));
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(render);
}

// --- Signing in ----------------------------------------------------------------------------

const SESSION = "api/v1/session";

function showAccount(session) {
  document.getElementById("account").hidden = session === null;
  if (session !== null) document.getElementById("who").textContent = session.name ?? session.account_id;
  const may = (permission) =>
    session?.grants.some((held) => held.permissions.includes(permission)) ?? false;
  document.getElementById("audit-link").hidden = !may("audit.read");
  account.alerts = may("alerts.read");
  account.grants = session?.grants ?? [];
  account.display = account.grants.length > 0 && account.grants.every((grant) => grant.role === "display");
  document.getElementById("alerts-link").hidden = !account.alerts;
}

// The words of the delay reasons a plan's blockers name, asked for once a board is sent
// plans; until they come, or if they cannot, the blockers name the reasons' codes.
let delayReasonsAsked = false;

async function loadDelayReasons() {
  if (delayReasonsAsked) return;
  delayReasonsAsked = true;
  const response = await fetch("api/v1/discharges/delay-reasons").catch(() => null);
  if (!response?.ok) {
    // Asked again with the next snapshot.
    delayReasonsAsked = false;
    return;
  }
  account.delayReasons = new Map(Object.entries(await response.json()));
  flowInputs += 1;
  scheduleRender();
}

// Nothing of a board stays on screen for whoever uses the browser next.
function forget() {
  picture.sites.clear();
  picture.wards.clear();
  picture.beds.clear();
  bedsByWard.clear();
  wardCounted.clear();
  layout = null;
  picture.alerts.clear();
  picture.opel.clear();
  picture.discharges.clear();
  picture.pools.clear();
  flowDrawn = { key: null, parts: [] };
  keep.clear();
  clock.forget();
  changes.forget();
  document.getElementById("main").replaceChildren(el("p", { class: "loading" }, "Loading the live picture…"));
}

function signedOut() {
  live.end("signed_out");
  showAccount(null);
  document.getElementById("main").hidden = true;
  document.getElementById("sign-in").hidden = false;
  document.getElementById("username").focus();
}

// A person signs in with a password; a wall screen is paired once with its device token.
async function startSession(url, body, form, problem) {
  problem.textContent = "";
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) {
    problem.textContent = typeof answer.detail === "string" ? answer.detail : "Sign-in failed.";
    return;
  }
  form.reset();
  document.getElementById("sign-in").hidden = true;
  document.getElementById("main").hidden = false;
  showAccount(answer);
  live.start();
}

async function signOut() {
  live.disconnect();
  await fetch(SESSION, { method: "DELETE" });
  signedOut();
}

// Why the provider's sign-in did not sign anyone in, as the callback reports it.
const SSO_REFUSALS = {
  expired: "That sign-in took too long or was already used. Please try again.",
  declined: "The sign-in was cancelled or declined.",
  unverified: "The sign-in could not be verified. Please try again.",
  unavailable: "The sign-in service cannot be reached just now. Use your Flow Centre password or try again later.",
  "no-account": "You signed in, but you have no Flow Centre account. Ask your administrator for one.",
  "too-many": "Too many sign-ins from this computer lately. Please wait a few minutes.",
};

async function offerSingleSignOn() {
  const refusal = new URLSearchParams(location.search).get("sign-in");
  if (refusal !== null) {
    document.getElementById("sso-problem").textContent = SSO_REFUSALS[refusal] ?? "The sign-in failed.";
    history.replaceState(null, "", location.pathname + location.hash);
  }
  const response = await fetch(`${SESSION}/sso/provider`);
  if (!response.ok) return;
  const provider = await response.json();
  document.getElementById("sso-link").textContent = `Sign in with ${provider.name}`;
  document.getElementById("sso").hidden = false;
}

async function start() {
  offerSingleSignOn();
  const response = await fetch(SESSION);
  if (response.status === 401) return signedOut();
  showAccount(response.ok ? await response.json() : null);
  live.start();
}

document.getElementById("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { username: form.username.value, password: form.password.value };
  startSession(SESSION, body, form, document.getElementById("sign-in-problem"));
});
document.getElementById("pair-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { token: form.token.value };
  startSession(`${SESSION}/device`, body, form, document.getElementById("pair-problem"));
});
document.getElementById("sign-out").addEventListener("click", signOut);
// The address names the board shown: the skip link moves the keyboard without changing it.
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("content").focus();
});
const main = document.getElementById("main");
changes.listen(main);
bedChanges.listen(main, (bedId) => picture.beds.get(bedId));
plans.listen(main, (spellId) => {
  const plan = picture.discharges.get(spellId);
  const bed = plan?.listed && picture.beds.get(plan.bed_id);
  return bed ? { plan, bed } : null;
});
window.addEventListener("hashchange", scheduleRender);
// Keeps the "since" durations moving on a board with no changes.
setInterval(scheduleRender, 30_000);
setInterval(live.watchdog, 1_000);
setInterval(() => {
  if ((route().wall?.turn ?? null) !== shownTurn) scheduleRender();
}, 1_000);
start();
