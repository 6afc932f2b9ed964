// HTTP to the hub: the session's access token (sessionStorage: this tab's, gone when the
// tab closes; short-lived, renewed from the browser's lasting login, an httpOnly cookie
// no script reads), JSON requests, and errors shown in the page's language (errorText:
// chosen by the error's code and parameters, never the server's English message).

import { errorText, t } from "./i18n.js";
import { idb } from "./store.js";

const KEY = "hub:session";

export const PAGES = {
  deputy: "/static/deputy.html",
  secretariat: "/static/secretariat.html",
  unit: "/static/unit.html",
  supervisor: "/static/supervisor.html",
  admin: "/static/admin.html",
};

export const session = {
  /** This tab's login: {token, user, expires_at}, its token possibly expired (the hub
   * says so with a 401, and `renew` gets another), or null. */
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || "null");
    } catch {
      return null;
    }
  },
  save({ token, expires_in, user }) {
    const s = { token, user, expires_at: Date.now() + expires_in * 1000 };
    sessionStorage.setItem(KEY, JSON.stringify(s));
    return s;
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

// -- this browser's lasting login ------------------------------------------------------

let renewing = null;
/**
 * A fresh access token for this tab from the browser's lasting login (the device cookie:
 * POST /api/devices/refresh, which rotates it). Resolves with the tab's new session, or
 * null: no lasting login (or it ended), no network, or it is another person's now (they
 * logged in on this browser since). One request at a time.
 */
export function renew() {
  renewing ??= (async () => {
    try {
      const r = await fetch("/api/devices/refresh", { method: "POST" });
      if (r.status !== 200) return null; // 204: no lasting login on this browser
      const fresh = await r.json();
      const mine = session.get();
      if (mine && mine.user.id !== fresh.user.id) return null;
      return session.save(fresh);
    } catch {
      return null;
    }
  })().finally(() => {
    renewing = null;
  });
  return renewing;
}

let freshTimer = null;
/** Renew the tab's token before it expires (at four fifths of its life), again and again. */
export function keepFresh() {
  clearTimeout(freshTimer);
  const s = session.get();
  if (!s) return;
  const left = s.expires_at - Date.now();
  freshTimer = setTimeout(async () => {
    await renew(); // offline: tried again in half a minute, and on the next 401
    keepFresh();
  }, Math.max(30000, left * 0.8));
}

let leaving = null; // why this page is about to go to the login page, once it knows

/**
 * Say why the page will soon go to the login page (a logout, a password change), so
 * that the 401s and 4401s the server sends meanwhile do not say "expired"; null: undo.
 */
export function leavingFor(reason) {
  leaving = reason;
}

let navigating = false;

/** Back to the login page, saying why (expired, deactivated, logged out). */
export function toLogin(reason) {
  if (navigating) return;
  navigating = true;
  reason = leaving ?? reason;
  session.clear();
  const q = reason ? `?reason=${encodeURIComponent(reason)}` : "";
  location.replace(`/static/index.html${q}`);
}

/** A refused request: `code` (hub/errors.py, or "network"), its machine-readable `params`
 * (the error body: `field`, `allowed`, `resets`, `retry_after`…); `message` is for the console. */
export class ApiError extends Error {
  constructor(status, code, message, params = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.params = params;
  }
}

/** The routes the running server offers ("GET /api/x/{id}"), from /openapi.json. */
let routes = null;
export async function offered() {
  if (routes) return routes;
  try {
    const r = await fetch("/openapi.json");
    const doc = await r.json();
    routes = new Set();
    for (const [path, ops] of Object.entries(doc.paths || {}))
      for (const m of Object.keys(ops)) routes.add(`${m.toUpperCase()} ${path}`);
  } catch {
    routes = new Set();
  }
  return routes;
}

export async function has(method, path) {
  return (await offered()).has(`${method} ${path}`);
}

// -- what the page read last, for when the network is gone ------------------------------

let copies = false;
/** This page keeps a copy of each GET's answer on the device (IndexedDB, per user) and
 * shows it when the network (or the hub: 502, 503, 504) does not answer. */
export function keepCopies() {
  copies = true;
}

const SYNCED = "hub:synced:";
/** When this browser last heard the hub for the signed-in user (ms), or null. */
export function lastSync() {
  const s = session.get();
  const at = s && Number(localStorage.getItem(SYNCED + s.user.id));
  return at || null;
}
export function synced() {
  const s = session.get();
  if (s) localStorage.setItem(SYNCED + s.user.id, String(Date.now()));
}

/** Forget what this browser keeps for a user (logout on a shared PC). */
export async function forgetCopies(userId) {
  localStorage.removeItem(SYNCED + userId);
  await idb.drop("copies", `${userId}:`);
}

const copyKey = (path) => `${session.get()?.user.id}:${path}`;
const DOWN = new Set([502, 503, 504]);

// -- a repeat visit is drawn from the device first (stale-while-revalidate) --------------

let reads = null; // while a part is drawn from the copies: path -> the copy's JSON it was given

/**
 * Run `draw()` with every GET answered by this device's copy where it holds one (no round
 * trip; the others go to the hub). Resolves with the paths so answered, each with the
 * copy's JSON, for `revalidate`. One draw at a time, so that each knows what it read.
 */
export async function fromCopies(draw) {
  const mine = new Map();
  reads = mine;
  try {
    await draw();
  } finally {
    reads = null;
  }
  return mine;
}

/**
 * Ask the hub again, side by side, for each path a draw read from the copies; its answer
 * becomes the copy. Resolves with the paths whose answer differs from what was drawn (a
 * path the hub does not answer keeps its copy and counts as unchanged).
 */
export async function revalidate(read) {
  const changed = new Set();
  await Promise.all(
    [...read].map(async ([path, drawn]) => {
      const data = await api("GET", path, undefined, { quiet: true, fresh: true }).catch(() => undefined);
      if (data !== undefined && JSON.stringify(data) !== drawn) changed.add(path);
    }),
  );
  return changed;
}

/**
 * Call the API. Resolves with the JSON body; rejects with ApiError after showing its
 * text (errorText, unless `quiet`). A 401 sends the user back to the login page.
 */
export async function api(method, path, body, { quiet = false, form = null, fresh = false, renewed = false } = {}) {
  const s = session.get();
  if (reads && copies && method === "GET" && !fresh) {
    const copy = await idb.get("copies", copyKey(path));
    if (copy) {
      reads.set(path, JSON.stringify(copy.data));
      return copy.data;
    }
  }
  const headers = {};
  if (s) headers.Authorization = `Bearer ${s.token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const keep = copies && method === "GET";
  let r;
  try {
    r = await fetch(path, { method, headers, body: payload });
  } catch {
    const copy = keep && (await idb.get("copies", copyKey(path)));
    if (copy) return copy.data;
    const err = new ApiError(0, "network", "network error");
    if (!quiet) showError(err);
    throw err;
  }
  if (keep && DOWN.has(r.status)) {
    const copy = await idb.get("copies", copyKey(path));
    if (copy) return copy.data;
  }
  let data = null;
  const text = await r.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { code: "internal", message: text.slice(0, 200) }; // not the hub's JSON (a proxy's page)
  }
  if (!r.ok) {
    const err = failure(r, data);
    if (r.status === 401 && path !== "/api/login") {
      if (!renewed && s && (await renew())) return api(method, path, body, { quiet, form, fresh, renewed: true });
      toLogin("expired");
      throw err;
    }
    if (!quiet) showError(err);
    throw err;
  }
  if (keep) {
    await idb.put("copies", { data, at: Date.now() }, copyKey(path));
    synced();
  }
  return data;
}

/** The ApiError of a refused response whose JSON body (or null) is `data`. */
export function failure(r, data) {
  return new ApiError(r.status, data?.code || "unknown", data?.message || r.statusText, data || {});
}

/** The ApiError of a refused `fetch` response read here (uploads that do not go through api()). */
export async function failed(r) {
  return failure(r, await r.json().catch(() => null));
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body ?? {}, opts);

/**
 * The href of a download link (a document, an attachment, an export). It carries no
 * token: a click on any link to /api/… fetches a one-minute token for that one path
 * (POST /api/downloads) and opens the link with it, so a copied or forwarded link, a
 * browser history or a proxy log never holds the session's token.
 */
export function authUrl(path) {
  return path;
}

async function openSigned(a) {
  let r;
  try {
    r = await post("/api/downloads", { path: a.getAttribute("href") });
  } catch {
    return; // the error is shown
  }
  if (a.hasAttribute("download")) {
    const tmp = Object.assign(document.createElement("a"), { href: r.url, download: a.getAttribute("download") });
    tmp.dataset.signed = "";
    document.body.append(tmp);
    tmp.click();
    tmp.remove();
  } else if (a.target === "_blank") {
    window.open(r.url, "_blank", "noopener");
  } else {
    location.assign(r.url);
  }
}

if (typeof document !== "undefined") {
  document.addEventListener("click", (ev) => {
    const a = ev.target instanceof Element ? ev.target.closest("a[href^='/api/']") : null;
    if (!a || a.dataset.signed !== undefined) return;
    ev.preventDefault();
    openSigned(a);
  });
}

/** Log this device out on the server: its token stops working on every node. */
export async function logOut() {
  leavingFor("loggedOut");
  const s = session.get();
  if (s) {
    await fetch("/api/logout", { method: "POST", headers: { Authorization: `Bearer ${s.token}` } }).catch(() => {});
  }
  session.clear();
}

/**
 * Show an error in the page's alert region (role="alert"), as text: an error with a `code`
 * (an ApiError, an error frame) through errorText; a string only when already translated.
 */
export function showError(error) {
  const box = document.getElementById("errors");
  if (!box) return;
  const message = typeof error === "string" ? error : errorText(error);
  const p = document.createElement("p");
  p.className = "error-line";
  p.textContent = t("common.error", { message });
  const close = document.createElement("button");
  close.type = "button";
  close.className = "link";
  close.textContent = t("common.close");
  close.addEventListener("click", () => p.remove());
  p.append(" ", close);
  box.append(p);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => p.remove(), 15000);
}
