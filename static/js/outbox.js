// The outbox: a write a person makes without a connection, or that the hub could not take
// just then (network error, 5xx, 408, 429), waits on this device (IndexedDB, per user)
// and is sent when the connection returns, in the order it was made, also after a reload
// or a browser restart. Each carries an Idempotency-Key made once, when it is queued: sent
// again after a lost answer, the hub answers the first answer and stores it once
// (docs/protocol.md, HTTP). A refusal (4xx) takes it out of the outbox and is shown.
//
// A write with a file (a registration's evidence) waits with its file (a Blob in
// IndexedDB): once the write itself is answered, the file's upload takes its place in the
// outbox, in one transaction, its path naming what the answer created. The upload is sent
// without a key (the hub takes at most MAX_JSON bytes with one); sent again after a lost
// answer it changes nothing, as the hub takes the same file again as a no-op.
//
// Events on `outbox`: "change" (what waits changed), "sent" ({entry, data}), "refused"
// ({entry, error}).

import { errorText, t } from "./i18n.js";
import { failure, renew, session, showError, toLogin } from "./api.js";
import { idb } from "./store.js";

const RETRY_MIN = 1000; // ms; doubled after each failed round, up to RETRY_MAX
const RETRY_MAX = 30000;
const TRANSIENT = (status) => status >= 500 || status === 408 || status === 429;

export const outbox = new EventTarget();
const waiters = new Map(); // key -> {resolve, reject}: submits made by this page
let running = null;
let again = false;
let delay = RETRY_MIN;
let timer = null;

function key() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

const emit = (type, detail) => outbox.dispatchEvent(new CustomEvent(type, { detail }));

/** The signed-in user's writes that wait to be sent, oldest first. */
export async function waiting() {
  const me = session.get()?.user.id;
  return (await idb.all("outbox")).filter((e) => e.user === me).sort((a, b) => a.n - b.n);
}

/**
 * Make a write through the outbox. Resolves with `{data}` (the hub's answer) when it was
 * sent now, or `{queued: true}` when it waits; rejects with the ApiError of a refusal
 * (shown already). `what` is the i18n key naming the action ("op.submit"). `upload`
 * (optional): `{file, path, what}`, a file PUT to `path` once the write is answered, `{id}`
 * in `path` replaced by the answer's id.
 */
export async function submit(method, path, body, what, upload = null) {
  const s = session.get();
  const entry = { key: key(), user: s?.user.id, method, path, body, what, upload, at: Date.now() };
  const n = await idb.put("outbox", entry);
  if (n === undefined) return { data: await direct(entry) }; // no IndexedDB: online only
  const result = new Promise((resolve, reject) => waiters.set(entry.key, { resolve, reject }));
  emit("change");
  flush();
  return result;
}

/** Without IndexedDB: one attempt, still with its key; its file, if any, after it. */
async function direct(entry) {
  const { api } = await import("./api.js");
  const data = await api(entry.method, entry.path, entry.body);
  const next = entry.upload && uploadOf(entry, data);
  if (next) {
    const r = await send(next, session.get());
    if (!r.ok) showError(failure(r, await r.json().catch(() => null)));
    else emit("sent", { entry: next, data: await r.json() });
  }
  return data;
}

/** The entry uploading `e`'s file, once `e` was answered with `data`. */
function uploadOf(e, data) {
  const { file, path, what } = e.upload;
  return { key: `${e.key}.file`, user: e.user, method: "PUT", path: path.replace("{id}", String(data?.id)), file, name: file.name, what, at: e.at };
}

/** One attempt at sending an entry (fetch's own promise: rejects when there is no network). */
function send(e, s) {
  if (e.file) {
    return fetch(e.path, {
      method: e.method,
      headers: { Authorization: `Bearer ${s.token}`, "Content-Type": e.file.type || "application/octet-stream" },
      body: e.file,
    });
  }
  return fetch(e.path, {
    method: e.method,
    headers: { Authorization: `Bearer ${s.token}`, "Content-Type": "application/json", "Idempotency-Key": e.key },
    body: JSON.stringify(e.body ?? {}),
  });
}

/** Forget the signed-in user's writes that wait (they are never sent). */
export async function discard() {
  for (const e of await waiting()) await idb.del("outbox", e.n);
  emit("change");
}

/** Send what waits, in order; one round at a time (a second call runs one more round). */
export function flush() {
  if (running) {
    again = true;
    return running;
  }
  clearTimeout(timer);
  running = (async () => {
    do {
      again = false;
      await round();
    } while (again);
  })().finally(() => {
    running = null;
  });
  return running;
}

async function round() {
  for (const e of await waiting()) {
    const s = session.get();
    if (!s) return;
    let r;
    try {
      r = await send(e, s);
    } catch {
      return later();
    }
    if (TRANSIENT(r.status)) return later();
    const text = await r.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (r.status === 401) {
      if (await renew()) {
        again = true; // sent again with the renewed token
        return;
      }
      toLogin("expired"); // it waits here for the next login
      return;
    }
    if (r.ok && e.upload) {
      await idb.replace("outbox", e.n, uploadOf(e, data)); // its file waits in its place
      again = true;
    } else await idb.del("outbox", e.n);
    delay = RETRY_MIN;
    const w = waiters.get(e.key);
    waiters.delete(e.key);
    if (r.ok) {
      if (w) w.resolve({ data });
      else flashSent(e);
      emit("sent", { entry: e, data });
    } else {
      const error = failure(r, data);
      showError(t("outbox.refused", { what: t(e.what), message: errorText(error) }));
      w?.reject(error);
      emit("refused", { entry: e, error });
    }
    emit("change");
  }
}

function flashSent(e) {
  const box = document.getElementById("flash");
  if (!box) return;
  const p = document.createElement("p");
  p.className = "flash-line";
  p.textContent = t("outbox.sent", { what: t(e.what) });
  box.append(p);
  setTimeout(() => p.remove(), 6000);
}

/** The hub cannot be reached: what this page submitted is now waiting; try again later. */
function later() {
  for (const w of waiters.values()) w.resolve({ queued: true });
  waiters.clear();
  emit("change");
  clearTimeout(timer);
  timer = setTimeout(flush, delay);
  delay = Math.min(RETRY_MAX, delay * 2);
}

if (typeof window !== "undefined") window.addEventListener("online", () => flush());
