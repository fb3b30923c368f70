// What the pages of their own share around their content: form fields, the page's
// problem line, who is signed in, and drawing at most once a frame.

import { el } from "./dom.js";

let fields = 0;

export function field(label, control, hint = null) {
  fields += 1;
  control.id = `field-${fields}`;
  if (hint) {
    hint.id = `hint-${fields}`;
    control.setAttribute("aria-describedby", hint.id);
  }
  return el("div", { class: "field" }, el("label", { for: control.id }, label), control, hint);
}

export function onSubmit(form, handler) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    handler(event.submitter ?? form.querySelector("button"));
  });
  return form;
}

// One JSON request, with its control disabled until the answer; the answer's body, or
// null when it has none. A request that never reaches the server throws.
export async function request(method, path, body, control) {
  if (control) control.disabled = true;
  try {
    const response = await fetch(path, {
      method,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => null);
    return { response, answer };
  } finally {
    if (control) control.disabled = false;
  }
}

// The server's refusal in words: its message, or each field it named; ``forbidden`` is
// what a 403 without a message means on this page.
export function describeProblem(answer, status, forbidden) {
  const detail = answer?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((one) => {
        const where = (one.loc ?? []).filter((part) => part !== "body").join(".");
        return where ? `${where}: ${one.msg}` : one.msg;
      })
      .join("; ");
  }
  if (status === 403) return forbidden;
  if (status === 429) return "Too many changes from this account just now: wait a moment.";
  return `The change was not made (the server answered ${status}).`;
}

export function pageProblem(...words) {
  document.getElementById("page-problem").replaceChildren(...words);
}

// Signing in happens on the whiteboard page; this one stops and says so.
export function signedOutOfPage(live) {
  live.end("signed_out");
  document.getElementById("account").hidden = true;
  pageProblem(
    "You are not signed in. Sign in on the ",
    el("a", { href: "./" }, "whiteboard page"),
    ", then come back.",
  );
}

export function may(session, permission) {
  return session.grants.some((held) => held.permissions.includes(permission));
}

// The session of whoever is signed in, named in the header with the links it may
// follow; null when nobody is (after ``signedOut``) or the server could not say.
export async function signedIn(signedOut) {
  const response = await fetch("api/v1/session");
  if (response.status === 401) {
    signedOut();
    return null;
  }
  if (!response.ok) {
    pageProblem("The server could not say who is signed in. Reload the page to try again.");
    return null;
  }
  const session = await response.json();
  document.getElementById("who").textContent = session.name ?? session.account_id;
  // The alerts page has no link to itself.
  const alerts = document.getElementById("alerts-link");
  if (alerts) alerts.hidden = !may(session, "alerts.read");
  document.getElementById("account").hidden = false;
  return session;
}

// However many changes ask for a drawing within a frame, the page is drawn once.
export function onceAFrame(render) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      render();
    });
  };
}
