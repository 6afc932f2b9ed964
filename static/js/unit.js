// The unit inbox (office PC): items handed over arrive with a visible and an audible
// alert; sign or return, co-unit opinion, contacts, extension, reply; deadline
// countdowns on every card, the nearest deadline first (overdue on top).
//
// The alert sounds once per person for what they have not seen: the server records
// what each person has seen (an item opened, the alert acknowledged, an action taken:
// POST /api/items/seen) and says so in each item it sends them (`seen`), so another PC
// or the next login does not sound again for it; a new hand-over does.

import { get, keepCopies, post } from "./api.js";
import { t } from "./i18n.js";
import { ItemBoard, allowedActions, owedActions } from "./items.js";
import { mountSearch } from "./search.js";
import { startPage } from "./ui.js";

keepCopies(); // offline, the inbox shows what it read last
const { me, client } = await startPage(["unit"], "page.unit");

// -- sound: WebAudio needs a user gesture once per page load ----------------------------

const SOUND = `hub:v1:${me.id}:sound`;
let audio = null;
let soundOn = localStorage.getItem(SOUND) !== "off";
const soundBtn = document.getElementById("sound");

function drawSound() {
  soundBtn.textContent = t(soundOn ? "unit.soundOff" : "unit.soundOn");
  soundBtn.setAttribute("aria-pressed", String(soundOn));
}

function ensureAudio() {
  if (!audio) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    audio = new Ctx();
  }
  if (audio.state === "suspended") audio.resume();
  return audio;
}

/** Two short tones: noticeable in an office, not alarming. */
let lastBeep = 0;
function beep() {
  if (Date.now() - lastBeep < 2000) return; // a burst of alerts sounds once
  lastBeep = Date.now();
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  if (!soundOn) return;
  const a = ensureAudio();
  if (!a) return;
  const start = a.currentTime + 0.01;
  for (const [i, f] of [880, 660].entries()) {
    const osc = a.createOscillator();
    const gain = a.createGain();
    osc.type = "sine";
    osc.frequency.value = f;
    gain.gain.setValueAtTime(0.0001, start + i * 0.25);
    gain.gain.exponentialRampToValueAtTime(0.3, start + i * 0.25 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.25 + 0.22);
    osc.connect(gain).connect(a.destination);
    osc.start(start + i * 0.25);
    osc.stop(start + i * 0.25 + 0.24);
  }
}

soundBtn.addEventListener("click", () => {
  soundOn = !soundOn;
  localStorage.setItem(SOUND, soundOn ? "on" : "off");
  drawSound();
  if (soundOn) {
    ensureAudio();
    lastBeep = 0;
    beep();
  }
});
// Any first click or key unlocks audio for alerts that come later.
for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, () => soundOn && ensureAudio(), { once: true });
drawSound();

// -- the alert --------------------------------------------------------------------------

// A burst of hand-overs (or what came while this PC was off) gives one banner and one
// sound; the banner counts the hand-overs waiting for the unit that this person has not
// seen. Acknowledging it records them seen on the server.
const alertBox = document.getElementById("handover-alert");
let alertTimer = null;

const waitingForMe = (item) => allowedActions(item).some((a) => a.name === "sign" || a.name === "co_opinion");
const unseen = (item) => item.seen === false && waitingForMe(item);

/** Record on the server that this person has seen these items (the error, if any, is shown). */
async function markSeen(items) {
  const fresh = items.filter((item) => item.seen === false);
  if (!fresh.length) return;
  for (const item of fresh) item.seen = true;
  try {
    await post("/api/items/seen", { item_ids: fresh.map((item) => item.id) });
  } catch {
    for (const item of fresh) item.seen = false;
  }
}

document.getElementById("handover-dismiss").addEventListener("click", () => {
  alertBox.hidden = true;
  for (const li of document.querySelectorAll("li.fresh")) li.classList.remove("fresh");
  markSeen(todo.matching(unseen).map((c) => c.item));
});

function alertHandover() {
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => {
    const n = todo.count(unseen);
    if (!n) return;
    document.getElementById("handover-text").textContent = t("item.newHandoverAlert", { n });
    alertBox.hidden = false;
    alertBox.classList.remove("flashing");
    void alertBox.offsetWidth; // restart the animation
    alertBox.classList.add("flashing");
    beep();
  }, 300);
}

// -- the boards -------------------------------------------------------------------------

const units = new Map();
const isTodo = (item) => owedActions(item).length > 0;
const onFresh = (item, event) => {
  for (const u of [item.lead_unit, ...item.co_units]) if (u) units.set(u.id, u.name);
  if (event && (event.action === "hand_over" || event.action === "reassign")) alertHandover();
  else if (event && (event.action === "due_soon" || event.action === "overdue")) beep();
  drawCount();
};
const onOpen = (item) => markSeen([item]);
const board = { me, client, units, order: "deadline", onOpen };
const todo = new ItemBoard({ ...board, list: document.getElementById("todo"), filter: isTodo, emptyKey: "unit.nothingToDo", onFresh });
const others = new ItemBoard({ ...board, list: document.getElementById("others"), filter: (i) => !isTodo(i) });
mountSearch(document.querySelector("#search .body"), ["suggestion", "item"]);

function drawCount() {
  const n = todo.cards.size;
  const badge = document.getElementById("todo-count");
  badge.textContent = String(n);
  badge.hidden = n === 0;
  document.title = `${n ? `(${n}) ` : ""}${t("page.unit")} · ${t("app.name")}`;
}

client.addEventListener("message", (ev) => {
  const m = ev.detail;
  // The item moves between the boards as its state changes; only one alerts.
  Promise.all([todo.apply(m), others.apply({ ...m, cached: true })]).then(drawCount, (e) => console.error(e));
});

// The lists come over HTTP; the channel is followed from the head read before them (what
// changed in between comes again and is applied once), so a fresh login replays no
// history. What this person has not seen yet alerts now, once.
const channel = `unit:${me.unit_id}`;
const { head } = await get(`/api/channels/${channel}/messages?limit=1`);
await Promise.all([todo.load(""), others.load("")]);
drawCount();
for (const c of todo.matching(unseen)) c.li.classList.add("fresh");
alertHandover();
client.subscribe(channel, { since: head });
client.start();
