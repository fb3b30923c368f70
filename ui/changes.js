// What every two-tap change on a ward's board shares, whether it sets a bed's state or a
// patient's plan: the change shows at once as pending, until its own event comes back on
// the socket; a refused change rolls back with the server's reason; a change whose event
// never comes back is dropped, saying so; the last change made can be undone until
// anything else changes what it changed. One control at a time has its choices open.
//
// A change is made on a ``subject`` (``bed:<id>`` or ``plan:<spell id>``, what a delta
// names) and a ``key`` within it (the bed's state, the plan's expected discharge date...),
// each key with at most one change pending.

import { el } from "./dom.js";
import { describeProblem, request } from "./page.js";

// A change the server took but whose event never came back is not left pending for ever:
// the board then shows what the stream has, and says so.
const CONFIRM_WITHIN_MS = 30_000;
// Enough to recognise an event that came back before the server's answer did.
const RECENT_EVENTS = 500;

const UNCONFIRMED = "The change has not reached the board, so it may not have been made: check it.";
const UNREACHABLE = "The server could not be reached: nothing was changed.";

export function twoTapChanges(scheduleRender) {
  const pending = new Map(); // key -> { change, eventId, timer }
  const recent = new Set();
  const mine = new Set(); // the events of changes made here, most recent last
  let open = null; // the key of the control whose choices are showing
  // The last change made here: { change, undo, eventId }, its undo offered only until
  // anything else changes its subject.
  let last = null;
  let problem = null; // { key, text }
  let focusAfter = null; // the control to focus once the board is drawn again
  let spoken = null; // the one live region that announces what happened to a change

  function announce(text) {
    if (spoken) spoken.textContent = text;
  }

  const done = (change) => `${change.what} ${change.outcome}.`;

  // ``subjects``: what the event changed on this board.
  function heard(eventId, subjects) {
    if (!eventId) return;
    recent.add(eventId);
    if (recent.size > RECENT_EVENTS) recent.delete(recent.values().next().value);
    if (last && !mine.has(eventId) && subjects.includes(last.change.subject)) {
      // Someone or something else changed it: undoing now would overwrite that.
      last = null;
      scheduleRender();
    }
    for (const [key, waiting] of pending) {
      if (waiting.eventId === eventId) {
        clearTimeout(waiting.timer);
        pending.delete(key);
        announce(done(waiting.change));
        scheduleRender();
      }
    }
  }

  // ``change``: { subject, key, wardId, what (the thing changed, in words), outcome (what
  // it becomes, in words, after "what"), shown (what the board draws while it is
  // pending), method, path, body, forbidden (a 403's meaning), focus (the control to
  // focus after), undo (a change that puts back what was shown, or null) }.
  async function make(change) {
    const { key } = change;
    open = null;
    problem = null;
    const waiting = { change, eventId: null, timer: null };
    pending.set(key, waiting);
    focusAfter = change.focus;
    announce(`${change.what}: saving…`);
    scheduleRender();
    let outcome;
    try {
      outcome = await request(change.method, change.path, change.body, null);
    } catch {
      outcome = null;
    }
    // A later change of the same thing, made before this one's answer came, outranks it.
    const latest = pending.get(key) === waiting;
    if (!outcome?.response.ok) {
      if (latest) pending.delete(key);
      const text = outcome
        ? describeProblem(outcome.answer, outcome.response.status, change.forbidden)
        : UNREACHABLE;
      problem = { key, text };
      announce(`${change.what} was not changed: ${text}`);
      scheduleRender();
      return;
    }
    const eventId = outcome.answer.event_id;
    mine.add(eventId);
    if (mine.size > RECENT_EVENTS) mine.delete(mine.values().next().value);
    // A superseded change leaves the thing, and its undo, to the later change.
    if (latest) last = { change, eventId };
    if (latest && recent.has(eventId)) {
      pending.delete(key);
      announce(done(change));
    } else if (latest) {
      waiting.eventId = eventId;
      waiting.timer = setTimeout(() => {
        if (pending.get(key) !== waiting) return;
        pending.delete(key);
        problem = { key, text: UNCONFIRMED };
        announce(`${change.what}: ${UNCONFIRMED}`);
        scheduleRender();
      }, CONFIRM_WITHIN_MS);
    }
    scheduleRender();
  }

  // What is on its way for ``key``: the change's ``shown``, or undefined.
  const shown = (key) => pending.get(key)?.change.shown;
  const isPending = (key) => pending.has(key);
  const problemOf = (key) => (problem?.key === key ? problem.text : null);
  const isOpen = (key) => open === key;

  function toggle(key, firstChoice) {
    open = open === key ? null : key;
    problem = null;
    focusAfter = open && firstChoice ? firstChoice : key;
    scheduleRender();
  }

  // What of this module the control of ``keys`` shows, as a string: it is drawn again
  // only when this, or what it controls, changes.
  function drawnWith(toggleKey, keys) {
    return JSON.stringify([
      open === toggleKey,
      keys.map((key) => [pending.has(key), problemOf(key)]),
    ]);
  }

  function problemLine(keys) {
    const text = keys.map(problemOf).find((one) => one !== null);
    return text ? el("p", { class: "problem" }, text) : null;
  }

  // The last change made on this ward's board, with its undo while one can be made.
  function lastChange(wardId) {
    if (last === null || last.change.wardId !== wardId) return null;
    const confirmed = !pending.has(last.change.key);
    return el(
      "p",
      { class: "last-change" },
      `${done(last.change).slice(0, -1)}${confirmed ? "" : " (saving)"}. `,
      last.change.undo !== null && confirmed
        ? el("button", { type: "button", "data-undo": "", "data-focus-key": "undo" }, "Undo")
        : null,
    );
  }

  function lastChangeDrawnWith(wardId) {
    const mine = last?.change.wardId === wardId;
    return JSON.stringify([mine && done(last.change), mine && last.change.undo !== null, mine && pending.has(last.change.key)]);
  }

  // One listener for the whole board, whose controls are drawn again as things change.
  function listen(root) {
    // A live region, not a status role: the page's one status is its connection.
    spoken = el("p", { class: "visually-hidden", "aria-live": "polite", "aria-atomic": "true" });
    document.body.append(spoken);
    root.addEventListener("click", (event) => {
      const target = event.target.closest("button[data-undo]");
      if (!target || !last?.change.undo) return;
      const { undo } = last.change;
      last = null;
      make(undo);
    });
    root.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || open === null) return;
      focusAfter = open;
      open = null;
      scheduleRender();
    });
  }

  // Where the keyboard's focus goes once the board is drawn anew: where the last action
  // sent it, or else back to the control that had it (``focused``, its focus key) if that
  // control was drawn again.
  function keepFocus(focused) {
    const key = focusAfter ?? focused;
    focusAfter = null;
    if (!key) return;
    const target = document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (target && target !== document.activeElement) target.focus();
  }

  // A fresh snapshot shows everything as it is, changes made here included once made: a
  // change still pending then may never see its event, and is no longer shown pending.
  function snapshotTaken() {
    for (const waiting of pending.values()) clearTimeout(waiting.timer);
    pending.clear();
    scheduleRender();
  }

  // Signed out: nothing of this account's changes stays for whoever signs in next.
  function forget() {
    for (const waiting of pending.values()) clearTimeout(waiting.timer);
    pending.clear();
    recent.clear();
    mine.clear();
    open = null;
    last = null;
    problem = null;
    focusAfter = null;
    announce("");
  }

  return {
    heard,
    make,
    shown,
    isPending,
    problemLine,
    isOpen,
    toggle,
    drawnWith,
    lastChange,
    lastChangeDrawnWith,
    listen,
    keepFocus,
    snapshotTaken,
    forget,
  };
}
