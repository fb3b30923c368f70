// What the pages work out from discharge plans and community capacity pools, as the API
// does (flowcentre/domain/discharge_lists.py): what stands between a patient and leaving,
// and the places a pool has left. The pages' clocks move with time, so these are worked
// out when drawn, never sent.

export const PATHWAYS = {
  0: "Pathway 0: home, no new support",
  1: "Pathway 1: home with new or restarted support",
  2: "Pathway 2: short-term bed-based recovery",
  3: "Pathway 3: long-term residential or nursing care",
};
export const QUEUE_GROUPS = ["untriaged", "0", "1", "2", "3"];

export const TASKS = {
  transport: "Transport",
  medicines: "Medicines to take home",
  equipment: "Equipment",
  care_start: "Care start agreed",
  placement: "Placement confirmed",
  family_informed: "Family informed",
};

export const TASK_STATES = {
  pending: "To do",
  started: "Started",
  done: "Done",
  not_needed: "Not needed",
};

export const SERVICES = {
  reablement: "Reablement",
  home_care: "Home care",
  community_hospital_bed: "Community hospital bed",
  step_down_bed: "Step-down bed",
  rehabilitation_bed: "Rehabilitation bed",
  care_home_residential: "Care home (residential)",
  care_home_nursing: "Care home (nursing)",
};

// A calendar day as the API takes it, on this computer's calendar, which is the ward's.
export function localDay(date = new Date()) {
  const month = String(date.getMonth() + 1).padStart(2, "0");
  const day = String(date.getDate()).padStart(2, "0");
  return `${date.getFullYear()}-${month}-${day}`;
}

export function openReferral(item) {
  const referral = item.referral;
  return referral && !referral.discharged_at ? referral : null;
}

export function outstanding(item) {
  return item.tasks.filter((task) => task.status === "pending" || task.status === "started");
}

// Outstanding on the day the patient is expected to leave, or after it.
export function lateTasks(item, today) {
  const expected = item.expected_discharge_date;
  if (!expected || expected > today) return new Set();
  return new Set(outstanding(item).map((task) => task.task));
}

export function holds(reservation, now) {
  return (
    !reservation.released_at && !reservation.used_at && now < Date.parse(reservation.expires_at)
  );
}

// Whether the patient's pathway needs a place outside hospital that none of their
// reservations holds ``now``.
export function needsPlace(item, now) {
  const pathway = item.referral?.pathway ?? null;
  const reserved = (held) => held.pathway === pathway && holds(held, now);
  return pathway !== null && pathway !== "0" && !item.reservations.some(reserved);
}

// ``delayReason(code)``: a delay reason's words.
export function blockers(item, now, today, delayReason = (code) => code) {
  const found = [];
  const referral = openReferral(item);
  if (referral && referral.pathway === null) found.push("not triaged");
  if (needsPlace(item, now)) found.push("no capacity reserved");
  const late = lateTasks(item, today);
  for (const task of outstanding(item)) {
    found.push(`${TASKS[task.task] ?? task.task}${late.has(task.task) ? " (due today)" : ""}`);
  }
  const reside = item.criteria_to_reside;
  if (reside?.delay_reason) found.push(`delayed: ${delayReason(reside.delay_reason)}`);
  return found;
}

// Places left in a pool: declared, less reservations that hold or were used.
export function free(pool, now) {
  const taken = pool.reservations.filter(
    (held) => held.used || (!held.released && now < Date.parse(held.expires_at)),
  ).length;
  return pool.available - taken;
}
