// The admin's console (desktop): the congress's set-up. Meetings, delegations and units,
// accounts (admin-accounts.js), the points and deadline rules, the working-day calendar
// and points disputes (admin-rules.js), the roster import, and the set-up log (setup:1)
// as "recent changes": who changed what, in the page's language, live.
//
// Every change goes through the hub's API, which logs it on setup:1 in the same
// transaction; the list below shows those messages, so what it says is what was stored.

import { get, post, api } from "./api.js";
import { day, t, when } from "./i18n.js";
import { setupText as changeText } from "./messages.js";
import { mountRoster } from "./roster.js";
import { busy, el, field, fill, flash, startPage } from "./ui.js";
import * as accounts from "./admin-accounts.js";
import * as rules from "./admin-rules.js";

const RECENT = 30;

const { client } = await startPage(["admin"], "page.admin");
const ctx = { meetings: [], delegations: [], units: [], bus: new EventTarget() };

// -- recent changes (the set-up log) ------------------------------------------------------

const changes = el("ol", { class: "list", id: "changes-list" });
const shownIds = new Set();

function addChange(m, top) {
  if (shownIds.has(m.id)) return;
  shownIds.add(m.id);
  const li = el("li", { "data-change": m.id, "data-kind": m.kind }, el("span", { class: "meta" }, `${when(m.ts)} `), changeText(m));
  if (top) changes.prepend(li);
  else changes.append(li);
  while (changes.children.length > RECENT) {
    shownIds.delete(Number(changes.lastElementChild.dataset.change));
    changes.lastElementChild.remove();
  }
}

async function drawChanges() {
  const head = (await get("/api/channels/setup:1/messages?limit=1")).head;
  const r = await get(`/api/channels/setup:1/messages?since=${Math.max(0, head - RECENT)}&limit=${RECENT}`);
  fill(document.querySelector("#changes .body"), changes);
  for (const m of r.messages.slice().reverse()) addChange(m, false);
  if (!r.messages.length) changes.append(el("li", { class: "meta", id: "changes-none" }, t("adm.noChanges")));
  return head;
}

// -- meetings -----------------------------------------------------------------------------

async function loadDirectory() {
  const [m, d, u] = await Promise.all([get("/api/meetings"), get("/api/delegations"), get("/api/units")]);
  ctx.meetings = m.meetings;
  ctx.delegations = d.delegations;
  ctx.units = u.units;
  ctx.bus.dispatchEvent(new Event("directory"));
}

function meetingDates(m) {
  if (!m.starts_on) return t("adm.noDates");
  return m.ends_on && m.ends_on !== m.starts_on ? `${day(m.starts_on)} – ${day(m.ends_on)}` : day(m.starts_on);
}

function drawMeetings() {
  const list = el("ul", { class: "list", id: "meeting-list" });
  const title = el("input", { id: "m-title", maxlength: 300 });
  const starts = el("input", { id: "m-starts", type: "date" });
  const ends = el("input", { id: "m-ends", type: "date" });
  const save = el("button", { type: "submit", class: "primary", id: "m-save" }, t("adm.createMeeting"));
  const cancel = el("button", { type: "button", id: "m-cancel", hidden: true }, t("common.cancel"));
  let editing = null;
  const reset = () => {
    editing = null;
    form.reset();
    save.textContent = t("adm.createMeeting");
    cancel.hidden = true;
  };
  cancel.addEventListener("click", reset);
  const form = el("form", { id: "meeting-form" }, field("adm.meetingTitle", title), el("div", { class: "row" }, field("adm.startsOn", starts), field("adm.endsOn", ends)), el("div", { class: "row" }, save, cancel));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!title.value.trim()) return title.focus();
    const body = { title: title.value.trim(), starts_on: starts.value || null, ends_on: ends.value || null };
    busy(save, async () => {
      if (editing === null) await post("/api/admin/meetings", body);
      else await api("PUT", `/api/admin/meetings/${editing}`, body);
      reset();
      flash(t("common.done"));
      await loadDirectory();
    });
  });
  const draw = () =>
    fill(
      list,
      ctx.meetings.map((m) =>
        el(
          "li",
          { "data-meeting": m.id },
          el("div", { class: "row" }, el("strong", { class: "grow" }, m.title), el("button", {
            type: "button",
            class: "ghost",
            onclick: () => {
              editing = m.id;
              title.value = m.title;
              starts.value = m.starts_on || "";
              ends.value = m.ends_on || "";
              save.textContent = t("adm.saveMeeting");
              cancel.hidden = false;
              title.focus();
            },
          }, t("adm.edit"))),
          el("div", { class: "meta" }, meetingDates(m)),
        ),
      ),
    );
  ctx.bus.addEventListener("directory", draw);
  draw();
  fill(document.querySelector("#meetings .body"), form, list);
}

// -- delegations and units ----------------------------------------------------------------

function groupPart(what) {
  const list = el("ul", { class: "list", id: `${what}-list` });
  const name = el("input", { id: `${what}-name`, maxlength: 200 });
  const add = el("button", { type: "submit", class: "primary" }, t(`adm.add.${what}`));
  const form = el("form", { id: `${what}-form`, class: "row" }, field(`adm.name.${what}`, name), add);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) return name.focus();
    busy(add, async () => {
      await post(`/api/admin/${what}s`, { name: name.value.trim() });
      form.reset();
      flash(t("common.done"));
      await loadDirectory();
    });
  });
  const rename = (g, li) => {
    const input = el("input", { value: g.name, maxlength: 200, "aria-label": t(`adm.name.${what}`), class: "grow" });
    const ok = el("button", { type: "submit", class: "primary" }, t("adm.save"));
    const f = el("form", { class: "row" }, input, ok, el("button", { type: "button", onclick: draw }, t("common.cancel")));
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!input.value.trim()) return input.focus();
      busy(ok, async () => {
        await api("PUT", `/api/admin/${what}s/${g.id}`, { name: input.value.trim() });
        flash(t("common.done"));
        await loadDirectory();
      });
    });
    fill(li, f);
    input.focus();
  };
  function draw() {
    const items = what === "delegation" ? ctx.delegations : ctx.units;
    fill(
      list,
      items.map((g) => {
        const li = el("li", { [`data-${what}`]: g.id });
        fill(li, el("div", { class: "row" }, el("span", { class: "grow" }, g.name), el("button", { type: "button", class: "ghost", onclick: () => rename(g, li) }, t("adm.rename"))));
        return li;
      }),
    );
  }
  ctx.bus.addEventListener("directory", draw);
  draw();
  return el("div", {}, el("h3", {}, t(`adm.${what}s`)), form, list);
}

// -- the roster import, for a meeting chosen here --------------------------------------------

function drawRoster() {
  const box = el("div", { id: "roster-box" });
  const pick = el("select", { id: "roster-meeting" });
  const draw = () => {
    const was = pick.value;
    fill(pick, ctx.meetings.map((m) => el("option", { value: m.id }, m.title)));
    if (was && ctx.meetings.some((m) => String(m.id) === was)) pick.value = was;
  };
  let mounted = null; // the meeting whose import the box holds
  const mount = () => {
    mounted = pick.value || null;
    if (pick.value) mountRoster(box, Number(pick.value));
    else fill(box, el("p", { class: "meta" }, t("adm.noMeetings")));
  };
  pick.addEventListener("change", mount);
  // The first meeting created (or the chosen one gone): the import follows the choice.
  ctx.bus.addEventListener("directory", () => {
    draw();
    if ((pick.value || null) !== mounted) mount();
  });
  draw();
  fill(document.querySelector("#roster .body"), field("shell.meeting", pick), box);
  mount();
}

// -- wiring -----------------------------------------------------------------------------

client.addEventListener("message", (ev) => {
  const m = ev.detail;
  if (m.channel !== "setup:1") return;
  document.getElementById("changes-none")?.remove();
  addChange(m, true);
  rules.onSetupMessage?.(m, ctx);
});

await loadDirectory();
drawMeetings();
fill(document.querySelector("#groups .body"), groupPart("delegation"), groupPart("unit"));
drawRoster();
const parts = [drawChanges(), accounts.mount(ctx), rules.mount(ctx)];
const [head] = await Promise.all(parts.map((p) => Promise.resolve(p).catch((e) => console.error(e))));
client.subscribe("setup:1", { since: head ?? 0 });
client.start();
