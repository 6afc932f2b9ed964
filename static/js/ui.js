// DOM helpers and the page shell every signed-in page shares.
//
// el() builds elements from text only: strings become text nodes, never markup, so
// anything a user typed (opinions, replies, names) cannot inject HTML.

import { PAGES, forgetCopies, fromCopies, get, keepFresh, lastSync, logOut, renew, revalidate, session, synced, toLogin } from "./api.js";
import { HubClient, forgetUser } from "./hub-client.js";
import { LANGUAGES, applyI18n, lang, setLang, setZone, t, when as whenText } from "./i18n.js";
import { discard, flush, outbox, waiting } from "./outbox.js";
import { openDevicesDialog } from "./devices.js";
import { openPasswordDialog } from "./password.js";

/**
 * el("button", {class: "primary", onclick: fn, "aria-label": "…"}, "text", child…)
 * Attribute values are set with setAttribute (or as properties for on* handlers,
 * `value`, `checked`, `disabled`, `hidden`); children are Nodes or text.
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "checked") e.checked = e.defaultChecked = true;
    else if (k === "value" && e instanceof HTMLInputElement) {
      e.setAttribute("value", String(v)); // what form.reset() goes back to
      e.value = String(v);
    } else if (k === "value" || k === "disabled" || k === "hidden") e[k] = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  append(e, children);
  return e;
}

function append(parent, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function fill(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** A labelled form field: <label for=id>text</label> + control. */
export function field(labelKey, control, hint) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  return el(
    "div",
    { class: "field" },
    el("label", { for: control.id }, t(labelKey)),
    control,
    hint ? el("small", { class: "hint" }, hint) : null,
  );
}

export function button(labelKey, onclick, cls = "", attrs = {}) {
  return el("button", { type: "button", class: cls, onclick, ...attrs }, t(labelKey));
}

/** Run an async action from a button: disabled while it runs, errors already shown. */
export async function busy(btn, fn) {
  btn.disabled = true;
  try {
    return await fn();
  } catch {
    return undefined;
  } finally {
    btn.disabled = false;
  }
}

/**
 * `fn` (async) run at most once every `ms`, however often it is asked for: the first ask
 * runs it at once (leading), asks while it waits or runs are kept as one more run when
 * `ms` have passed since the last one started (trailing). A steady stream of asks never
 * postpones it beyond that (unlike a debounce, which waits for a quiet moment that a
 * stream never gives), and two runs never overlap. Returns `ask()`.
 */
export function throttle(fn, ms) {
  let last = -Infinity; // when the last run started
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    running = true;
    again = false;
    last = Date.now();
    try {
      await fn();
    } catch (e) {
      console.error(e);
    } finally {
      running = false;
      if (again) ask();
    }
  };
  const ask = () => {
    if (running) {
      again = true;
      return;
    }
    if (timer !== null) return;
    timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  return ask;
}

/** A short confirmation for screen readers and eyes (role=status). */
export function flash(message) {
  const box = document.getElementById("flash");
  if (!box) return;
  const p = el("p", { class: "flash-line" }, message);
  box.append(p);
  setTimeout(() => p.remove(), 6000);
}

// -- time ----------------------------------------------------------------------------

// when, day, deadlineText and today: in the hub's zone (i18n.js); here for the pages.
export { deadlineText, day, today, when } from "./i18n.js";
import { deadlineText } from "./i18n.js";

/** "3 d 4 h left" / "2 h overdue", from a deadline and the server-corrected now. */
export function countdown(iso, now = Date.now()) {
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const d = Math.floor(abs / 86400000);
  const h = Math.floor((abs % 86400000) / 3600000);
  const m = Math.floor((abs % 3600000) / 60000);
  const parts = [];
  if (d) parts.push(t("time.days", { n: d }));
  if (h || d) parts.push(t("time.hours", { n: h }));
  if (!d) parts.push(t("time.mins", { n: m }));
  const text = parts.join(" ");
  return { overdue: ms < 0, soon: ms >= 0 && ms < 86400000, text: t(ms < 0 ? "time.overdue" : "time.dueIn", { d: text }) };
}

/** A countdown element that keeps itself up to date. */
export function countdownEl(iso, client) {
  startTicking();
  const span = el("span", { class: "countdown", "data-deadline": iso });
  const tick = () => {
    const c = countdown(iso, client ? client.now() : Date.now());
    span.textContent = c.text;
    span.classList.toggle("overdue", c.overdue);
    span.classList.toggle("soon", c.soon);
  };
  tick();
  return span;
}

/** A deadline: its date as it was set ("12月14日（当天结束前）") and the time left. */
export function deadlineEl(iso, client) {
  return el("span", { class: "deadline" }, el("span", { class: "deadline-date", "data-deadline-at": iso }, deadlineText(iso)), " · ", countdownEl(iso, client));
}

// One timer for every countdown on the page, started by the first (importing this module
// starts nothing, so a test can import it without a page).
let ticking = false;
function startTicking() {
  if (ticking) return;
  ticking = true;
  setInterval(() => {
    for (const s of document.querySelectorAll(".countdown[data-deadline]")) {
      const c = countdown(s.dataset.deadline, window.hubClient ? window.hubClient.now() : Date.now());
      if (s.textContent !== c.text) s.textContent = c.text; // a page changes only what changed
      s.classList.toggle("overdue", c.overdue);
      s.classList.toggle("soon", c.soon);
    }
  }, 30000);
}

// -- the shell -------------------------------------------------------------------------

function langSwitch() {
  const sel = el(
    "select",
    { id: "lang", "aria-label": t("lang.switch") },
    Object.entries(LANGUAGES).map(([code, name]) =>
      el("option", { value: code, selected: code === lang() }, name),
    ),
  );
  sel.value = lang();
  sel.addEventListener("change", () => {
    setLang(sel.value);
    location.reload();
  });
  return sel;
}

// The larger-text setting (大字): one per device (textsize.js applies it before the first
// paint); every length of the pages is in rem, so the whole page grows with the text.
const TEXT_SIZE = "hub:text-size";

/** The 大字 switch: a toggle button (aria-pressed) that keeps its choice on this device. */
export function textSizeSwitch() {
  const root = document.documentElement;
  const b = el("button", { type: "button", class: "ghost", id: "text-size", "aria-pressed": String(root.classList.contains("large-text")), title: t("shell.largeTextHint") }, t("shell.largeText"));
  b.addEventListener("click", () => {
    const on = !root.classList.contains("large-text");
    root.classList.toggle("large-text", on);
    b.setAttribute("aria-pressed", String(on));
    try {
      localStorage.setItem(TEXT_SIZE, on ? "large" : "normal");
    } catch {
      /* storage disabled: for this page only */
    }
  });
  return b;
}

/** The language switch alone (the login page). */
export function mountLangSwitch(where) {
  where.append(langSwitch());
}

/** The online/offline banner: shows while the connection is down, and after it heals. */
export function attachBanner(client, box = document.getElementById("conn")) {
  if (!box) return;
  let wasOffline = false;
  let hideTimer = null;
  const retry = el("button", { type: "button", class: "link", onclick: () => client.reconnectNow() }, t("conn.retry"));
  const text = el("span");
  box.replaceChildren(text, " ", retry);
  const show = (state, message, withRetry) => {
    clearTimeout(hideTimer);
    box.dataset.state = state;
    box.hidden = false;
    text.textContent = message;
    retry.hidden = !withRetry;
  };
  box.hidden = true;
  client.addEventListener("status", (ev) => {
    const { state, attempt } = ev.detail;
    document.body.dataset.conn = state;
    if (state === "offline") {
      wasOffline = true;
      const at = lastSync();
      const since = at ? ` ${t("conn.lastSync", { when: whenText(new Date(at).toISOString()) })}` : "";
      show("offline", t("conn.offline", { n: Math.max(1, attempt) }) + since, true);
    } else if (state === "online" && wasOffline) {
      wasOffline = false;
      show("online", t("conn.online"), false);
      hideTimer = setTimeout(() => {
        box.hidden = true;
      }, 4000);
    } else if (state === "online") {
      box.hidden = true;
      box.dataset.state = "online";
    }
  });
}

/** The app shell: pages and their files kept on the device by static/sw.js. */
export function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/static/sw.js", { scope: "/static/" }).catch((e) => console.error(e));
}

/** The writes that wait in the outbox, listed under the connection line, and sent again
 * whenever the live connection comes back. */
export function attachOutbox(client) {
  const box = el("section", { class: "card outbox", id: "outbox", "aria-live": "polite", hidden: true });
  document.getElementById("conn")?.after(box);
  const draw = async () => {
    const list = await waiting();
    box.hidden = !list.length;
    fill(
      box,
      el("h2", {}, t("outbox.title", { n: list.length })),
      el("p", { class: "meta" }, t("outbox.hint")),
      el(
        "ul",
        { class: "list" },
        list.map((e) => {
          const what = e.name || e.body?.text || e.body?.title || e.body?.reason || "";
          return el("li", { "data-outbox": e.key }, el("strong", {}, t(e.what)), " ", el("span", { class: "meta" }, whenText(new Date(e.at).toISOString())), what ? el("p", { class: "text" }, what.length > 80 ? `${what.slice(0, 80)}…` : what) : null);
        }),
      ),
    );
  };
  outbox.addEventListener("change", draw);
  client.addEventListener("status", (ev) => {
    if (ev.detail.state === "online") flush();
  });
  draw();
  flush();
}

/**
 * A long text kept on this device while it is written (opinion, suggestion, reply): put
 * back after a reload, cleared by `clear()` once it is sent or queued.
 */
export function draft(control, name) {
  const k = `hub:draft:${session.get()?.user.id}:${name}`;
  const saved = localStorage.getItem(k);
  if (saved && !control.value) control.value = saved;
  control.addEventListener("input", () => {
    try {
      if (control.value) localStorage.setItem(k, control.value);
      else localStorage.removeItem(k);
    } catch {
      /* storage full or disabled: the text stays on the page only */
    }
  });
  return { clear: () => localStorage.removeItem(k) };
}

/**
 * Start a signed-in page: check the role, draw the header, load /api/me, make the hub
 * connection (not started). Resolves with {me, client, read}. `copiesFirst` (a page that
 * keeps copies and draws its parts with `drawParts`): /api/me comes from this device's
 * copy when it holds one, and `read` then holds it.
 */
export async function startPage(roles, titleKey, { copiesFirst = false } = {}) {
  applyI18n();
  // A new tab (or an expired token) logs in from the browser's lasting login; offline,
  // an expired token still shows what the device holds, and is renewed once online.
  let s = session.get();
  if (!s || s.expires_at < Date.now()) s = (await renew()) || s;
  if (!s) {
    toLogin();
    return new Promise(() => {});
  }
  keepFresh();
  if (!roles.includes(s.user.role)) {
    location.replace(PAGES[s.user.role] || "/static/index.html");
    return new Promise(() => {});
  }
  document.title = `${t(titleKey)} · ${t("app.name")}`;
  registerWorker();
  const header = document.getElementById("top");
  fill(
    header,
    el("a", { class: "skip", href: "#main" }, t("shell.skip")),
    el("div", { class: "brand" }, el("strong", {}, t("app.name")), el("span", { class: "page-name" }, t(titleKey))),
    el(
      "div",
      { class: "who" },
      el("span", { class: "user-name", id: "user-name" }, s.user.name),
      el("span", { class: "role" }, t(`role.${s.user.role}`)),
      langSwitch(),
      textSizeSwitch(),
      el("button", { type: "button", class: "ghost", id: "devices", onclick: openDevicesDialog }, t("shell.devices")),
      el("button", { type: "button", class: "ghost", id: "password-change", onclick: openPasswordDialog }, t("shell.password")),
      el("button", { type: "button", class: "ghost", id: "logout", onclick: () => logout(s.user.id) }, t("shell.logout")),
    ),
  );
  let me = null;
  const read = copiesFirst
    ? await fromCopies(async () => {
        me = await get("/api/me");
      })
    : new Map();
  me ??= await get("/api/me");
  if (me.timezone) setZone(me.timezone);
  const client = new HubClient({
    token: s.token,
    userId: s.user.id,
    getToken: () => session.get()?.token ?? null, // a later login in this tab refreshes it
  });
  window.hubClient = client;
  attachBanner(client);
  attachOutbox(client);
  client.addEventListener("welcome", synced);
  // An expired token (a tab offline for a while): renewed from the lasting login.
  client.addEventListener("unauthorized", async () => {
    if (await renew()) client.resume();
    else toLogin("expired");
  });
  client.addEventListener("deactivated", () => toLogin("deactivated"));
  return { me, client, read };
}

/**
 * Draw a signed-in page's parts, then `start()` its live connection. `parts`: each
 * `{draw, onMessage}`, `draw()` drawing one part from what it reads over HTTP.
 *
 * A repeat visit (`read`, from startPage, holds /api/me: this device has copies) is drawn
 * from the copies at once, part after part, with no round trip, and the connection
 * starts; then the hub is asked again for everything drawn, side by side, and each part
 * whose answers changed is drawn again from them, the live messages that came meanwhile
 * applied on top. A changed /api/me (another meeting, name or zone) reloads the page, which
 * draws from the fresh copies. Otherwise the parts are drawn from the hub side by side.
 * `document.body.dataset.drawn` says which: "copies" then "hub", or "hub".
 */
export async function drawParts({ read, client, parts, start }) {
  const drawOne = (p) => Promise.resolve(p.draw()).catch((e) => console.error(e));
  if (!read.size) {
    await Promise.all(parts.map(drawOne));
    document.body.dataset.drawn = "hub";
    start();
    return;
  }
  const reads = [];
  for (const p of parts) reads.push(await fromCopies(() => drawOne(p)));
  document.body.dataset.drawn = "copies";
  const meanwhile = [];
  const keep = (ev) => meanwhile.push(ev.detail);
  client.addEventListener("message", keep);
  start();
  const changed = await revalidate(new Map([...read, ...reads.flatMap((r) => [...r])]));
  if ([...read.keys()].some((path) => changed.has(path))) {
    location.reload();
    return;
  }
  for (const [i, p] of parts.entries()) {
    if (![...reads[i].keys()].some((path) => changed.has(path))) continue;
    await fromCopies(() => drawOne(p)); // the copies are the hub's answers now
    for (const m of meanwhile) p.onMessage?.(m);
  }
  client.removeEventListener("message", keep);
  document.body.dataset.drawn = "hub";
}

export async function logout(userId) {
  if (!(await unsentMayGo())) return;
  if (window.hubClient) window.hubClient.stop();
  // A shared office PC must not keep what this user received, nor a token that works.
  forgetUser(userId);
  await forgetCopies(userId);
  await logOut();
  toLogin("loggedOut");
}

/**
 * Before logging out: what waits in the outbox is sent if the hub answers now (within a
 * few seconds); what still waits is never dropped or kept without asking. The person
 * chooses: stay on the page (it is sent when the connection returns) or delete it and log
 * out. Resolves true to log out.
 */
async function unsentMayGo() {
  if (!(await waiting()).length) return true;
  await Promise.race([flush(), new Promise((r) => setTimeout(r, 3000))]);
  const n = (await waiting()).length;
  if (!n) return true;
  return new Promise((resolve) => {
    const stay = el("button", { type: "button", class: "primary", id: "unsent-stay" }, t("outbox.logoutStay"));
    const go = el("button", { type: "button", class: "ghost danger", id: "unsent-discard" }, t("outbox.logoutDiscard"));
    const dialog = el(
      "dialog",
      { class: "card", id: "unsent-dialog", "aria-labelledby": "unsent-title" },
      el("h2", { id: "unsent-title" }, t("outbox.logoutTitle", { n })),
      el("p", {}, t("outbox.logoutText")),
      el("div", { class: "row" }, stay, go),
    );
    let answer = false;
    stay.addEventListener("click", () => dialog.close());
    go.addEventListener("click", async () => {
      answer = true;
      await discard();
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    stay.focus();
  });
}

/** Tabs: buttons with role=tab controlling sections; arrow keys move between them. */
export function tabs(nav, onShow) {
  const list = [...nav.querySelectorAll("[role=tab]")];
  const show = (tab, focus) => {
    for (const x of list) {
      const on = x === tab;
      x.setAttribute("aria-selected", on ? "true" : "false");
      x.tabIndex = on ? 0 : -1;
      document.getElementById(x.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    history.replaceState(null, "", `#${tab.dataset.tab}`);
    if (onShow) onShow(tab.dataset.tab);
  };
  for (const x of list) {
    x.addEventListener("click", () => show(x, false));
    x.addEventListener("keydown", (ev) => {
      const i = list.indexOf(x);
      let j = null;
      if (ev.key === "ArrowRight" || ev.key === "ArrowDown") j = (i + 1) % list.length;
      if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") j = (i - 1 + list.length) % list.length;
      if (ev.key === "Home") j = 0;
      if (ev.key === "End") j = list.length - 1;
      if (j !== null) {
        ev.preventDefault();
        show(list[j], true);
      }
    });
  }
  const initial = list.find((x) => `#${x.dataset.tab}` === location.hash) || list[0];
  show(initial, false);
  return { show: (name) => show(list.find((x) => x.dataset.tab === name), false) };
}

/** A status chip. */
export function chip(text, kind = "") {
  return el("span", { class: `chip ${kind}` }, text);
}

/** A placeholder saying the server does not offer something yet. */
export function notYet(what) {
  return el("p", { class: "not-yet" }, t("common.notAvailable", { what }));
}
