// The one protocol client every page uses: auth, subscriptions that resume from the
// last seq this browser holds, automatic reconnect, delivery acks and read receipts.
//
// Guarantees to pages:
// * per channel, "message" events come in seq order, each seq once, never with a gap
//   (a jump makes the client resubscribe from the last seq it holds);
// * what this browser already holds is kept in localStorage per user and channel
//   ({last, acked, msgs, reads}) and replayed to the page first, marked `cached`;
// * delivery is acknowledged automatically: the highest contiguous seq, after a short
//   delay, so a burst costs one `ack`; unconfirmed acks and reads are sent again after
//   a reconnect until the server confirms them with a `receipt`;
// * publishes carry an idempotency key and are resent after a reconnect until
//   `published` (or an error) answers them;
// * the socket outlives its first token: shortly before it expires the client asks the
//   page (`getToken`) for its current token and, if that is a fresher one, sends `auth`
//   again on the open socket (subscriptions go on); otherwise it emits "expiring".
//
// Events (CustomEvent, details in parentheses):
//   "status"       ({state: "connecting" | "online" | "offline", attempt})
//   "welcome"      ({user, server_time})
//   "message"      (the message frame, plus `cached: true` when replayed from storage)
//   "reset"        ({channel}) the server's log is behind what we hold: start over
//   "read"         ({channel, seq}) a read receipt was confirmed
//   "ack"          ({channel, seq}) a delivery receipt was confirmed
//   "expiring"     ({expires}) the token ends soon and the page has no fresher one:
//                  get one and call setToken(token)
//   "unauthorized" ({message}) close 4401: the token is bad or expired; the client stops
//                  until resume()
//   "deactivated"  ({message}) close 4403: the account was deactivated
//   "error"        (the error frame) an error not tied to a pending request

const VERSION = "v1";
const ACK_DELAY = 250; // ms: coalesce a burst into one ack
const BACKOFF_BASE = 500; // ms
const BACKOFF_MAX = 10000; // ms
const PING_EVERY = 20000; // ms
const SILENCE_LIMIT = 45000; // ms without any frame: the connection is dead
const CACHE_LIMIT = 500; // messages kept per channel
const PERSIST_DELAY = 50; // ms
const RETRY_UNAVAILABLE = 2000; // ms before resending a receipt the server could not store
const REAUTH_LEAD = 60000; // ms before the token's expiry to re-authenticate

const PERMANENT = new Set(["bad_request", "forbidden", "not_found"]);

function wsUrl() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/ws`;
}

function randomKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
}

export class HubClient extends EventTarget {
  /**
   * @param {{token: string, userId: number, url?: string, storage?: Storage,
   *          getToken?: () => (string | null)}} opts
   *   getToken: the page's current token (it may have a fresher one than `token`)
   */
  constructor({ token, userId, url = wsUrl(), storage = window.localStorage, getToken = null }) {
    super();
    this.token = token;
    this.getToken = getToken;
    this._expiryTimer = null;
    this.userId = userId;
    this.url = url;
    this.storage = storage;
    this.state = "connecting";
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.serverOffset = 0; // server clock minus local clock, ms
    this.user = null;
    this.channels = new Map();
    this.pendingReads = new Map(this._load("pending-reads") || []);
    this.publishes = new Map(); // ref -> {frame, resolve, reject}
    this.requests = new Map(); // ref -> {resolve, reject}
    this.nextRef = 1;
    this.lastFrameAt = 0;
    this._timers = new Set();
    this._onOnline = () => this.reconnectNow();
    this._onOffline = () => this.ws && this.ws.close();
    this._onHide = () => this.flush();
  }

  // -- public API ------------------------------------------------------------------

  start() {
    window.addEventListener("online", this._onOnline);
    window.addEventListener("offline", this._onOffline);
    window.addEventListener("pagehide", this._onHide);
    this._heartbeat = setInterval(() => this._checkAlive(), PING_EVERY / 2);
    this._connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearInterval(this._heartbeat);
    clearTimeout(this._expiryTimer);
    for (const t of this._timers) clearTimeout(t);
    window.removeEventListener("online", this._onOnline);
    window.removeEventListener("offline", this._onOffline);
    window.removeEventListener("pagehide", this._onHide);
    this.flush();
    if (this.ws) this.ws.close(1000, "bye");
  }

  /**
   * Follow a channel; what this browser holds is replayed (as `cached`) before returning.
   * `since`: a page that loaded the state it shows over HTTP after reading the channel's
   * head starts there, not from history (a fresh browser would otherwise replay the whole
   * channel); what this browser holds before it is dropped, and nothing before it is
   * acknowledged (it was never delivered). Reconnects resume from the last seq as always.
   */
  subscribe(channel, { since = 0 } = {}) {
    if (this.channels.has(channel)) return;
    let saved = this._load(`ch:${channel}`) || {};
    if (since > (saved.last || 0)) saved = { last: since, acked: since };
    const ch = {
      name: channel,
      last: saved.last || 0,
      acked: saved.acked || 0, // confirmed by the server
      ackSent: 0,
      msgs: saved.msgs || [],
      reads: new Set(saved.reads || []),
      resyncing: false,
      persistTimer: null,
      ackTimer: null,
    };
    this.channels.set(channel, ch);
    for (const m of ch.msgs) this._emit("message", { ...m, cached: true });
    if (this.state === "online") this._sendSubscribe(ch);
  }

  unsubscribe(channel) {
    const ch = this.channels.get(channel);
    if (!ch) return;
    this._persist(ch);
    this.channels.delete(channel);
    if (this.state === "online") this._send({ type: "unsubscribe", channel });
  }

  /** The messages held for a channel, oldest first. */
  messages(channel) {
    const ch = this.channels.get(channel);
    return ch ? ch.msgs.slice() : [];
  }

  lastSeq(channel) {
    const ch = this.channels.get(channel);
    return ch ? ch.last : 0;
  }

  /** True once the server confirmed our read receipt for (channel, seq). */
  isRead(channel, seq) {
    const ch = this.channels.get(channel);
    return !!ch && ch.reads.has(seq);
  }

  isReadPending(channel, seq) {
    return this.pendingReads.has(`${channel}#${seq}`);
  }

  /** Send a read receipt; kept and resent until the server confirms it. */
  read(channel, seq) {
    if (this.isRead(channel, seq)) return;
    const key = `${channel}#${seq}`;
    if (!this.pendingReads.has(key)) {
      this.pendingReads.set(key, { channel, seq });
      this._savePendingReads();
    }
    if (this.state === "online") this._sendRead(channel, seq);
  }

  /** Publish; resolves with the `published` frame. Safe to retry: it carries a key. */
  publish(channel, kind, body, key = randomKey()) {
    const ref = this._ref();
    const frame = { type: "publish", channel, kind, body, key, ref };
    return new Promise((resolve, reject) => {
      this.publishes.set(ref, { frame, resolve, reject });
      if (this.state === "online") this._send(frame);
    });
  }

  /**
   * Use a fresher token: on the open socket at once (`auth` again; subscriptions go on),
   * and for every reconnect. Resolves with the `reauthed` frame (or at once when offline).
   */
  setToken(token) {
    this.token = token;
    if (this.state !== "online") return Promise.resolve(null);
    const ref = this._ref();
    return new Promise((resolve, reject) => {
      this.requests.set(ref, { resolve, reject });
      if (!this._send({ type: "auth", token, ref })) {
        this.requests.delete(ref);
        resolve(null);
      }
    });
  }

  /** Write what is held to storage now (it is otherwise written a moment later). */
  flush() {
    for (const ch of this.channels.values()) {
      if (ch.persistTimer) {
        clearTimeout(ch.persistTimer);
        this._timers.delete(ch.persistTimer);
        ch.persistTimer = null;
      }
      this._persist(ch);
    }
  }

  /** Local time corrected by the server clock (for deadlines and countdowns). */
  now() {
    return Date.now() + this.serverOffset;
  }

  /** After "unauthorized", once the page has a fresh token (getToken): connect again. */
  resume() {
    this.stopped = false;
    this.reconnectNow();
  }

  reconnectNow() {
    if (this.stopped) return;
    if (this.state === "online") return;
    this.attempt = 0;
    this._clearReconnect();
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
      this.ws = null;
    }
    this._connect();
  }

  // -- connection ------------------------------------------------------------------

  _connect() {
    if (this.stopped) return;
    this._setState(this.attempt === 0 && !this.everOnline ? "connecting" : "offline");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      const fresh = this.getToken && this.getToken();
      if (fresh) this.token = fresh;
      ws.send(JSON.stringify({ type: "auth", token: this.token }));
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch {
        return;
      }
      this._onFrame(f);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this._onClose(ev);
    };
  }

  _onClose(ev) {
    for (const ch of this.channels.values()) {
      ch.resyncing = false;
      ch.ackSent = ch.acked;
    }
    if (this.stopped) return;
    if (ev.code === 4401) {
      this._setState("offline");
      this.stopped = true;
      this._emit("unauthorized", { message: ev.reason });
      return;
    }
    if (ev.code === 4403) {
      this._setState("offline");
      this.stopped = true;
      this._emit("deactivated", { message: ev.reason });
      return;
    }
    this._setState("offline");
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    this._clearReconnect();
    // Full jitter: a restarted server is not hit by every client at the same moment.
    const cap = Math.min(BACKOFF_MAX, BACKOFF_BASE * 2 ** this.attempt);
    const delay = 200 + Math.random() * cap;
    this.attempt += 1;
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._connect();
    }, delay);
  }

  _clearReconnect() {
    if (this._reconnectTimer) clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
  }

  _checkAlive() {
    if (this.state !== "online" || !this.ws) return;
    if (Date.now() - this.lastFrameAt > SILENCE_LIMIT) {
      this.ws.close();
      return;
    }
    this._send({ type: "ping" });
  }

  _setState(state) {
    if (state === "online") this.everOnline = true;
    if (this.state === state && state !== "offline") return;
    this.state = state;
    this._emit("status", { state, attempt: this.attempt });
  }

  // -- frames ----------------------------------------------------------------------

  _onFrame(f) {
    switch (f.type) {
      case "welcome":
        this.user = f.user;
        this.serverOffset = Date.parse(f.server_time) - Date.now();
        this.attempt = 0;
        this._setState("online");
        this._emit("welcome", { user: f.user, server_time: f.server_time });
        this._resume();
        this._armExpiry(f.expires);
        break;
      case "reauthed": {
        this._armExpiry(f.expires);
        const r = this.requests.get(f.ref);
        if (r) {
          this.requests.delete(f.ref);
          r.resolve(f);
        }
        break;
      }
      case "subscribed":
        this._onSubscribed(f);
        break;
      case "message":
        this._onMessage(f);
        break;
      case "receipt":
        this._onReceipt(f);
        break;
      case "published": {
        const p = this.publishes.get(f.ref);
        if (p) {
          this.publishes.delete(f.ref);
          p.resolve(f);
        }
        break;
      }
      case "error":
        this._onError(f);
        break;
      default: {
        const r = f.ref && this.requests.get(f.ref);
        if (r) {
          this.requests.delete(f.ref);
          r.resolve(f);
        }
      }
    }
  }

  _armExpiry(expires) {
    clearTimeout(this._expiryTimer);
    const at = Date.parse(expires) - this.serverOffset; // local clock
    if (!at) return;
    const left = at - Date.now();
    // A minute before the end, or halfway for a token shorter than two minutes.
    const wait = Math.max(0, left - REAUTH_LEAD, left / 2);
    this._expiryTimer = setTimeout(() => this._renewToken(at), wait);
  }

  _renewToken(at) {
    if (this.state !== "online") return;
    const fresh = this.getToken && this.getToken();
    if (fresh && fresh !== this.token) {
      this.setToken(fresh).catch(() => this._emit("expiring", { expires: at }));
    } else {
      this._emit("expiring", { expires: at });
    }
  }

  _resume() {
    for (const ch of this.channels.values()) this._sendSubscribe(ch);
    for (const { channel, seq } of this.pendingReads.values()) this._sendRead(channel, seq);
    for (const p of this.publishes.values()) this._send(p.frame);
  }

  _sendSubscribe(ch) {
    this._send({ type: "subscribe", channel: ch.name, since: ch.last });
  }

  _onSubscribed(f) {
    const ch = this.channels.get(f.channel);
    if (!ch) return;
    ch.resyncing = false;
    if (f.head < ch.last) {
      // The server's log is behind what we hold (a fresh database): start over.
      ch.last = 0;
      ch.acked = 0;
      ch.ackSent = 0;
      ch.msgs = [];
      ch.reads.clear();
      this._persist(ch);
      this._emit("reset", { channel: ch.name });
      this._sendSubscribe(ch);
      return;
    }
    if (ch.acked < ch.last) this._scheduleAck(ch);
  }

  _onMessage(f) {
    const ch = this.channels.get(f.channel);
    if (!ch) return;
    if (f.seq <= ch.last) return; // a duplicate: we hold it already
    if (f.seq > ch.last + 1) {
      // A gap: ask again from what we hold; drop everything until that replay starts.
      if (!ch.resyncing) {
        ch.resyncing = true;
        this._sendSubscribe(ch);
      }
      return;
    }
    ch.last = f.seq;
    const m = {
      channel: f.channel,
      seq: f.seq,
      id: f.id,
      kind: f.kind,
      sender: f.sender,
      body: f.body,
      ts: f.ts,
    };
    ch.msgs.push(m);
    if (ch.msgs.length > CACHE_LIMIT) ch.msgs.splice(0, ch.msgs.length - CACHE_LIMIT);
    this._schedulePersist(ch);
    this._scheduleAck(ch);
    this._emit("message", { ...m, cached: false });
  }

  _scheduleAck(ch) {
    if (ch.ackTimer) return;
    ch.ackTimer = this._later(ACK_DELAY, () => {
      ch.ackTimer = null;
      if (this.state !== "online" || !this.channels.has(ch.name)) return;
      if (ch.last <= Math.max(ch.acked, ch.ackSent)) return;
      this._persist(ch); // ack only what is stored: a reload resumes after it
      ch.ackSent = ch.last;
      this._send({ type: "ack", channel: ch.name, seq: ch.last });
    });
  }

  _sendRead(channel, seq) {
    this._send({ type: "read", channel, seq, ref: `read:${channel}#${seq}` });
  }

  _onReceipt(f) {
    const ch = this.channels.get(f.channel);
    if (f.of === "ack") {
      if (ch && f.seq > ch.acked) {
        ch.acked = f.seq;
        this._schedulePersist(ch);
      }
      this._emit("ack", { channel: f.channel, seq: f.seq });
      return;
    }
    const key = `${f.channel}#${f.seq}`;
    if (this.pendingReads.delete(key)) this._savePendingReads();
    if (ch) {
      ch.reads.add(f.seq);
      this._schedulePersist(ch);
    }
    this._emit("read", { channel: f.channel, seq: f.seq });
  }

  _onError(f) {
    const ref = f.ref || "";
    if (ref.startsWith("read:")) {
      const key = ref.slice(5);
      const p = this.pendingReads.get(key);
      if (p && PERMANENT.has(f.code)) {
        this.pendingReads.delete(key);
        this._savePendingReads();
      } else if (p) {
        this._later(RETRY_UNAVAILABLE, () => {
          if (this.state === "online" && this.pendingReads.has(key)) {
            this._sendRead(p.channel, p.seq);
          }
        });
      }
      this._emit("error", f);
      return;
    }
    const pub = this.publishes.get(ref);
    if (pub) {
      this.publishes.delete(ref);
      pub.reject(Object.assign(new Error(f.message), { code: f.code, params: f }));
      return;
    }
    const r = this.requests.get(ref);
    if (r) {
      this.requests.delete(ref);
      r.reject(Object.assign(new Error(f.message), { code: f.code, params: f }));
      return;
    }
    if (f.code === "unavailable") {
      // A receipt batch could not be stored: resend what is not confirmed yet.
      for (const ch of this.channels.values()) ch.ackSent = ch.acked;
      for (const ch of this.channels.values()) this._scheduleAck(ch);
    }
    this._emit("error", f);
  }

  // -- plumbing --------------------------------------------------------------------

  _send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  _ref() {
    return `c${this.nextRef++}`;
  }

  _later(ms, fn) {
    const t = setTimeout(() => {
      this._timers.delete(t);
      fn();
    }, ms);
    this._timers.add(t);
    return t;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _key(name) {
    return `hub:${VERSION}:${this.userId}:${name}`;
  }

  _load(name) {
    try {
      const raw = this.storage.getItem(this._key(name));
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }

  _save(name, value) {
    try {
      this.storage.setItem(this._key(name), JSON.stringify(value));
    } catch {
      // Over quota: keep fewer messages everywhere and try once more.
      for (const ch of this.channels.values()) ch.msgs = ch.msgs.slice(-50);
      try {
        this.storage.setItem(this._key(name), JSON.stringify(value));
      } catch {
        /* memory still holds it; the server replays the rest after a reload */
      }
    }
  }

  _schedulePersist(ch) {
    if (ch.persistTimer) return;
    ch.persistTimer = this._later(PERSIST_DELAY, () => {
      ch.persistTimer = null;
      this._persist(ch);
    });
  }

  _persist(ch) {
    // last and msgs are written together, so a reload never resumes past what it shows.
    this._save(`ch:${ch.name}`, {
      last: ch.last,
      acked: ch.acked,
      msgs: ch.msgs,
      reads: [...ch.reads],
    });
  }

  _savePendingReads() {
    this._save("pending-reads", [...this.pendingReads.entries()]);
  }
}

/**
 * May a page apply this message's body as the hub's account of a workflow step (a
 * tally's counts, an opinion, an item's new state)? The one rule every page uses.
 *
 * Yes when the sender is the hub itself (role `system`) or the secretariat, or when the
 * message is on any channel but a desk. Until the hub reserved the workflows' kinds, a
 * participating deputy could publish any kind with any body on `desk:<meeting>`, and the
 * log keeps such rows for ever and replays them; every other channel only ever took raw
 * publishes from the secretariat. So on a desk, another sender's message (a deputy's
 * opinion, a unit's reply) is only a sign that something changed: read it from the API.
 */
export function authoritative(m) {
  const role = m.sender && m.sender.role;
  return role === "system" || role === "secretariat" || !String(m.channel).startsWith("desk:");
}

/** Forget everything this browser holds for a user (on logout from a shared PC). */
export function forgetUser(userId, storage = window.localStorage) {
  const prefix = `hub:${VERSION}:${userId}:`;
  for (let i = storage.length - 1; i >= 0; i--) {
    const k = storage.key(i);
    if (k && k.startsWith(prefix)) storage.removeItem(k);
  }
}
