// The whiteboard socket, as every live page keeps it: a snapshot and a cursor, then the
// deltas after it; a reconnect resumes from the cursor, and the header says how fresh the
// page's data is. What the page does with the data is its own, given to liveLink.

import { dayAndClock, shortAge } from "./time.js";

// Heartbeats come every few seconds; a board that hears nothing for this long assumes a
// half-open connection (common on wall screens left for days) and reconnects.
const SILENCE_LIMIT_MS = 20_000;
const STALE_AFTER_MS = 30_000;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
// The clock on the log ticks at an interval the heartbeats give, so at least one event
// reaches every board that often; nothing for this much longer than that means no events
// are being applied (the worker, the broker or the watch has stopped), and a board says so
// within a minute even though its own connection is sound.
const CLOCK_GRACE_MS = 20_000;

// Each snapshot and delta frame is timed with the User Timing API, from its arrival to the
// end of taking it in ("fc:snapshot", "fc:delta"; pages time their render as "fc:render"),
// so that `flowcentre bench` can read, in a real browser, how long a board takes to show
// the county and each change (docs/performance.md). A measure costs microseconds, and it
// is always on so the bench times the page as it is deployed. The entries are cleared
// every so many frames (heartbeats count), since a wall screen stays open for weeks.
const TIMED_FRAMES_KEPT = 5_000;

// Close codes the server gives a board it will not serve (see docs/whiteboard.md).
const SIGN_IN_AGAIN = 4401;
const NOT_ALLOWED = 4403;
const ACCESS_CHANGED = 4409;

const WORDS = {
  connecting: "Connecting…",
  live: "Live",
  stale: "Live, but not confirmed recently",
  stalled: "Live, but no events are arriving",
  offline: "Connection lost – reconnecting",
  signed_out: "Signed out",
  refused: "This account may not see any board",
};

// page.takeSnapshot(data) and page.applyDeltas(deltas, eventId) take in what the server
// sends (eventId: the event that made the deltas), and page.scheduleRender() follows
// either; page.forget() drops everything shown; page.signedOut() runs when the session
// has ended.
function allowedSilence(minutes) {
  if (minutes >= 120 && minutes % 60 === 0) return `${minutes / 60} hours`;
  return minutes === 1 ? "minute" : `${minutes} minutes`;
}

export function liveLink(page) {
  const link = {
    socket: null,
    retryMs: RETRY_FIRST_MS,
    lastHeard: 0,
    state: "connecting",
    cursor: null,
    // Local clock time at which the server last vouched that we had everything.
    confirmedAt: null,
    framesTimed: 0,
    // Local clock time since when the connection has been lost.
    offlineSince: null,
    clockEveryMs: null,
    // Local clock time at which the last event (a tick of the clock on the log, or any
    // other) reached the board.
    tickHeardAt: null,
    // The configured source feeds as the server last judged them: name, whether silent,
    // and when last heard once silent.
    feeds: [],
  };

  // Why the board may be out of date, in words that stay the same while the reason does
  // (the banner is announced whenever its words change), or null while it is live.
  function notLive(level, now) {
    const since = (at) => dayAndClock(new Date(at));
    if (level === "offline" && link.offlineSince !== null) {
      return `The connection to Flow Centre was lost at ${since(link.offlineSince)}; reconnecting.`;
    }
    if (level === "stale") {
      return `Flow Centre has not confirmed this board since ${since(link.confirmedAt)}.`;
    }
    if (level === "stalled") {
      return `No events have reached Flow Centre since ${since(link.tickHeardAt)}, not even its clock's ticks: its event stream has stopped.`;
    }
    return null;
  }

  function stalled(now) {
    if (link.clockEveryMs === null || link.tickHeardAt === null) return false;
    return now - link.tickHeardAt > link.clockEveryMs + CLOCK_GRACE_MS;
  }

  // Each source feed that has fallen silent, in words that stay the same while it stays
  // silent: when it was last heard, not for how long, which would change every minute.
  function silentFeeds() {
    return link.feeds
      .filter((feed) => feed.silent)
      .map((feed) => {
        const expected = `expected at least every ${allowedSilence(feed.silent_after_minutes)}`;
        const outOfDate = "what this board shows from it may be out of date.";
        if (feed.heard_at === null) {
          return `No messages from ${feed.name} have reached Flow Centre (${expected}): ${outOfDate}`;
        }
        const since = dayAndClock(new Date(feed.heard_at));
        return `No messages from ${feed.name} since ${since} (${expected}): ${outOfDate}`;
      });
  }

  // The banners stack at the top of the page: why the board is not live, then which feeds
  // are silent. Each is announced whenever its words change, so they change only when the
  // reason does.
  function showAlert(id, text) {
    let banner = document.getElementById(id);
    if (text === null) {
      banner?.remove();
      return;
    }
    let box = document.getElementById("banners");
    if (!box) {
      box = document.createElement("div");
      box.id = "banners";
      box.className = "banners";
      document.body.prepend(box);
    }
    if (!banner) {
      banner = document.createElement("div");
      banner.id = id;
      banner.className = id;
      banner.setAttribute("role", "alert");
      // Why the board is not live comes first.
      if (id === "not-live") box.prepend(banner);
      else box.append(banner);
    }
    if (banner.textContent !== text) banner.textContent = text;
  }

  function showBanner(reason) {
    const text = reason === null ? null : `Not live. ${reason} What this board shows may be out of date.`;
    showAlert("not-live", text);
    const silent = silentFeeds();
    showAlert("feeds-silent", silent.length ? silent.join(" ") : null);
  }

  function showFreshness() {
    const now = Date.now();
    const age = link.confirmedAt === null ? null : now - link.confirmedAt;
    let level = link.state;
    if (link.state === "live" && age !== null && age > STALE_AFTER_MS) level = "stale";
    else if (link.state === "live" && stalled(now)) level = "stalled";
    const box = document.querySelector(".freshness");
    // The status region is announced, so it changes only when the state does.
    if (box.dataset.level !== level) {
      box.dataset.level = level;
      document.getElementById("connection").textContent = WORDS[level];
    }
    const parts = [];
    if (age !== null) parts.push(`Data confirmed ${shortAge(age)} ago`);
    const changed = link.cursor ? Number(link.cursor.split("-")[0]) : 0;
    if (changed > 0) parts.push(`last change ${dayAndClock(new Date(changed))}`);
    document.getElementById("age").textContent = parts.join(" · ");
    showBanner(notLive(level, now));
  }

  function heard(message) {
    // Only a heartbeat naming our own cursor says we are up to date; otherwise deltas are
    // still on their way to us.
    if (message.cursor !== link.cursor) return;
    const serverLag = Date.parse(message.at) - Date.parse(message.checked_at);
    link.confirmedAt = Date.now() - Math.max(0, serverLag || 0);
  }

  function take(message) {
    if (message.type === "snapshot") page.takeSnapshot(message.data);
    else if (message.type === "delta") page.applyDeltas(message.deltas, message.event_id);
    else if (message.type === "heartbeat") heard(message);
    else if (message.type === "resnapshot") link.cursor = null;
    else if (message.type === "feeds") link.feeds = message.feeds;
    if (message.type === "heartbeat") {
      link.clockEveryMs = message.clock_every_s ? message.clock_every_s * 1000 : null;
    }
    // Every applied event shows the stream moving; a snapshot carries no tick, so the next
    // one is due from now.
    if (message.type === "snapshot" || message.type === "delta") {
      link.tickHeardAt = Date.now();
      link.cursor = message.cursor;
      link.confirmedAt = Date.now();
      link.retryMs = RETRY_FIRST_MS;
      // An event that changed nothing this board shows leaves it as drawn.
      if (message.type === "snapshot" || message.deltas.length) page.scheduleRender();
    }
  }

  function timeFrame(messages, arrivedAt) {
    if (messages.some((message) => message.type === "snapshot")) {
      performance.measure("fc:snapshot", { start: arrivedAt });
    } else if (messages.some((message) => message.type === "delta")) {
      performance.measure("fc:delta", { start: arrivedAt });
    }
    link.framesTimed += 1;
    if (link.framesTimed >= TIMED_FRAMES_KEPT) {
      link.framesTimed = 0;
      performance.clearMeasures();
    }
  }

  function socketUrl() {
    const url = new URL("ws/whiteboard", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.hash = "";
    if (link.cursor !== null) url.searchParams.set("cursor", link.cursor);
    return url;
  }

  function connect() {
    const socket = new WebSocket(socketUrl());
    link.socket = socket;
    link.lastHeard = Date.now();
    socket.addEventListener("open", () => {
      link.state = "live";
      link.offlineSince = null;
      showFreshness();
    });
    socket.addEventListener("message", (event) => {
      link.lastHeard = Date.now();
      // A frame holds one message, or an array of the several waiting for this board.
      const frame = JSON.parse(event.data);
      const messages = Array.isArray(frame) ? frame : [frame];
      for (const message of messages) take(message);
      showFreshness();
      timeFrame(messages, event.timeStamp);
    });
    socket.addEventListener("close", (event) => closed(socket, event.code));
  }

  function closed(socket, code) {
    if (link.socket !== socket) return;
    if (code === SIGN_IN_AGAIN) return page.signedOut();
    if (code === NOT_ALLOWED) return end("refused");
    // New roles or wards: what the page holds may no longer be its to show.
    if (code === ACCESS_CHANGED) link.cursor = null;
    reconnect(socket);
  }

  function reconnect(socket) {
    if (link.socket !== socket) return;
    link.socket = null;
    link.state = "offline";
    link.offlineSince ??= Date.now();
    showFreshness();
    // Jitter spreads out a hospital's boards reconnecting together after a restart.
    const wait = link.retryMs * (0.5 + Math.random());
    link.retryMs = Math.min(link.retryMs * 2, RETRY_MAX_MS);
    setTimeout(connect, wait);
  }

  function watchdog() {
    showFreshness();
    const socket = link.socket;
    if (socket && Date.now() - link.lastHeard > SILENCE_LIMIT_MS) {
      // A half-open connection may take minutes to report its close: do not wait for it.
      socket.close();
      reconnect(socket);
    }
  }

  function start() {
    link.state = "connecting";
    link.retryMs = RETRY_FIRST_MS;
    connect();
  }

  // Its close is not a drop to reconnect after.
  function disconnect() {
    const socket = link.socket;
    link.socket = null;
    socket?.close();
  }

  function show(state) {
    link.state = state;
    showFreshness();
  }

  // Signed out or refused: whoever signs in next starts from a snapshot of their own, not
  // from this account's cursor.
  function end(state) {
    disconnect();
    link.state = state;
    link.cursor = null;
    link.confirmedAt = null;
    link.offlineSince = null;
    link.tickHeardAt = null;
    link.feeds = [];
    page.forget();
    showFreshness();
  }

  return {
    get cursor() {
      return link.cursor;
    },
    start,
    disconnect,
    show,
    end,
    watchdog,
  };
}
