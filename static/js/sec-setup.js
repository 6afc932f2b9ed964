// Secretariat: the meeting's schedule (sittings, agenda) and its documents. The meeting's
// own secretariat edits an agenda item in place (agenda.changed comes back to every
// console) and closes a sitting that has started (a second click confirms; sitting.closed
// comes back), as the attendance board does.

import { api, authUrl, failed, get, post, session, showError } from "./api.js";
import { t, wallTime, zonedIso } from "./i18n.js";
import { busy, chip, el, field, fill, flash } from "./ui.js";
import { duration, sittingEnded, sittingOption, windowText } from "./sittings.js";

let ctx = null;
let lists = null;
let docs = [];

export async function mount(c) {
  ctx = c;
  lists = {
    sittings: el("ul", { class: "list", id: "setup-sittings" }),
    agenda: el("ol", { class: "list", id: "setup-agenda" }),
    docs: el("ul", { class: "list", id: "setup-docs" }),
  };
  fill(
    document.querySelector("#setup .body"),
    el(
      "div",
      { class: "console three" },
      el("div", {}, el("h3", {}, t("att.sittings")), sittingForm(), lists.sittings),
      el("div", {}, el("h3", {}, t("setup.agenda")), agendaForm(), lists.agenda),
      el("div", {}, el("h3", {}, t("doc.title")), docForm(), lists.docs),
    ),
  );
  ctx.bus.addEventListener("overview", draw);
  draw();
  try {
    docs = (await get(`/api/meetings/${ctx.meetingId}/documents`)).documents;
  } catch {
    docs = [];
  }
  drawDocs();
}

export function onMessage(m) {
  if (!ctx || m.channel !== `meeting:${ctx.meetingId}`) return;
  if (m.kind === "document.added" && !docs.some((d) => d.id === m.body.document.id)) {
    docs.push(m.body.document);
    drawDocs();
  }
}

function runs() {
  return (ctx.me.meetings || []).includes(ctx.meetingId);
}

function closeButton(s) {
  if (!runs() || Date.parse(s.starts_at) > Date.now()) return null;
  const btn = el("button", { type: "button", class: "danger", "data-close": s.id }, t("setup.closeSitting"));
  let armed = false;
  btn.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      btn.textContent = t("setup.confirmClose");
      return;
    }
    busy(btn, async () => {
      await post(`/api/sittings/${s.id}/close`);
      flash(t("common.done"));
    });
  });
  return btn;
}

function sittingItem(s) {
  // An ended one says so in its label (sittingOption); one not ended may be edited, and
  // closed if it may be.
  const ended = sittingEnded(s);
  const close = ended ? null : closeButton(s);
  const edit = ended ? null : el("button", { type: "button", class: "edit-sitting" }, t("setup.edit"));
  edit?.addEventListener("click", () => sittingEditor.edit(s));
  const win = windowText(s);
  return el(
    "li",
    { "data-sitting": s.id },
    el("div", { class: "row" }, el("span", { class: "grow" }, sittingOption(s)), s.checkin_code ? chip(t("setup.codeOn"), "info") : null, edit, close),
    s.place ? el("div", { class: "meta" }, t("att.place", { place: s.place })) : null,
    win ? el("div", { class: "meta" }, win) : null,
    s.speech_limit_s ? el("div", { class: "meta" }, t("spk.limit", { time: duration(s.speech_limit_s) })) : null,
  );
}

function agendaItem(a) {
  const li = el("li", { "data-agenda": a.id });
  const show = () => fill(li, el("div", { class: "row" }, el("span", { class: "grow" }, `${a.position}. ${a.title}`), runs() ? el("button", { type: "button", class: "ghost", onclick: edit }, t("setup.editAgenda")) : null));
  function edit() {
    const title = el("input", { value: a.title, maxlength: 300, "aria-label": t("common.title"), class: "grow" });
    const save = el("button", { type: "submit", class: "primary" }, t("adm.save"));
    const form = el("form", { class: "row" }, title, save, el("button", { type: "button", onclick: show }, t("common.cancel")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!title.value.trim()) return title.focus();
      busy(save, async () => {
        await api("PUT", `/api/agenda/${a.id}`, { title: title.value.trim() });
        flash(t("common.done"));
      });
    });
    fill(li, form);
    title.focus();
  }
  show();
  return li;
}

function draw() {
  fill(lists.sittings, ctx.overview.sittings.map(sittingItem));
  fill(lists.agenda, ctx.overview.agenda.map(agendaItem));
}

function drawDocs() {
  fill(
    lists.docs,
    docs.length
      ? docs.map((d) => el("li", { "data-document": d.id }, el("a", { href: authUrl(`/api/documents/${d.id}`), target: "_blank", rel: "noopener" }, d.title), el("span", { class: "meta" }, ` · ${t("doc.size", { n: Math.max(1, Math.round(d.size / 1024)) })}`)))
      : el("li", { class: "meta" }, t("doc.none")),
  );
}

function iso(local) {
  return local ? zonedIso(local) : null; // typed in the hub's zone, as every time is shown
}

/** Minutes typed in a number input, or null when it is empty. */
function minutes(input) {
  return input.value === "" ? null : Number(input.value);
}

/**
 * The sitting form: adds a sitting, or (修改 on a sitting not ended yet) edits one with PUT,
 * every field sent. Adding, an empty check-in window or speech limit takes the hub's
 * defaults; editing, empty means no limit.
 */
function sittingForm() {
  const kind = el("select", { id: "s-kind" }, el("option", { value: "plenary" }, t("att.plenary")), el("option", { value: "group" }, t("att.group")));
  const dele = el("select", { id: "s-delegation" }, [...ctx.dir.delegations].map(([id, name]) => el("option", { value: id }, name)));
  const delField = field("setup.delegation", dele);
  delField.hidden = true;
  kind.addEventListener("change", () => {
    delField.hidden = kind.value !== "group";
  });
  const title = el("input", { id: "s-title", maxlength: 300 });
  const starts = el("input", { id: "s-starts", type: "datetime-local" });
  const ends = el("input", { id: "s-ends", type: "datetime-local" });
  const place = el("input", { id: "s-place", maxlength: 300 });
  const opens = el("input", { id: "s-opens", type: "number", min: 0, max: 1440, step: 1, inputmode: "numeric" });
  const closes = el("input", { id: "s-closes", type: "number", min: 0, max: 1440, step: 1, inputmode: "numeric" });
  const limit = el("input", { id: "s-limit", type: "number", min: 0.5, max: 120, step: 0.5, inputmode: "decimal" });
  const code = el("input", { id: "s-code", type: "checkbox" });
  const hints = [opens, closes, limit].map(() => el("small", { class: "hint" }));
  const withHint = (key, control, hint) => {
    const f = field(key, control);
    f.append(hint);
    return f;
  };
  const btn = el("button", { type: "submit", class: "primary", id: "s-save" }, t("setup.addSitting"));
  const cancel = el("button", { type: "button", id: "s-cancel", hidden: true }, t("common.cancel"));
  const heading = el("h4", { id: "s-form-title", hidden: true }, t("setup.editTitle"));
  const form = el(
    "form",
    { id: "sitting-form" },
    heading,
    field("setup.kind", kind),
    delField,
    field("common.title", title),
    field("setup.starts", starts),
    field("setup.ends", ends),
    field("setup.place", place),
    withHint("setup.opensBefore", opens, hints[0]),
    withHint("setup.closesAfter", closes, hints[1]),
    el("label", { class: "row att-toggle" }, code, t("setup.code")),
    withHint("setup.speechLimit", limit, hints[2]),
    el("div", { class: "row" }, btn, cancel),
  );
  let editing = null; // the sitting being edited, or null: adding
  const mode = (s) => {
    editing = s;
    heading.hidden = cancel.hidden = !s;
    kind.disabled = dele.disabled = !!s;
    btn.textContent = t(s ? "setup.save" : "setup.addSitting");
    for (const h of hints) h.textContent = t(s ? "setup.hintNoLimit" : "setup.hintDefault");
  };
  const reset = () => {
    form.reset();
    delField.hidden = true;
    mode(null);
  };
  mode(null);
  cancel.addEventListener("click", reset);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!title.value.trim() || !starts.value) {
      (title.value.trim() ? starts : title).focus();
      return;
    }
    const body = { title: title.value.trim(), starts_at: iso(starts.value), place: place.value, checkin_code: code.checked };
    const window = { checkin_opens_before: minutes(opens), checkin_closes_after: minutes(closes), speech_limit_s: limit.value === "" ? null : Math.round(Number(limit.value) * 60) };
    busy(btn, async () => {
      if (editing) {
        await api("PUT", `/api/sittings/${editing.id}`, { ...body, ends_at: ends.value ? iso(ends.value) : null, ...window });
      } else {
        body.kind = kind.value;
        if (ends.value) body.ends_at = iso(ends.value);
        if (kind.value === "group") body.delegation_id = Number(dele.value);
        for (const [k, v] of Object.entries(window)) if (v !== null) body[k] = v; // empty: the hub's default
        await post(`/api/meetings/${ctx.meetingId}/sittings`, body);
      }
      reset();
      flash(t("common.done"));
    });
  });
  sittingEditor.edit = (s) => {
    mode(s);
    kind.value = s.kind;
    delField.hidden = s.kind !== "group";
    if (s.delegation_id !== null) dele.value = String(s.delegation_id);
    title.value = s.title;
    starts.value = wallTime(s.starts_at);
    ends.value = wallTime(s.ends_at);
    place.value = s.place || "";
    opens.value = s.checkin_opens_before ?? "";
    closes.value = s.checkin_closes_after ?? "";
    limit.value = s.speech_limit_s ? String(s.speech_limit_s / 60) : "";
    code.checked = !!s.checkin_code;
    title.focus();
  };
  return form;
}

/** Opens the sitting form on a sitting (set by sittingForm). */
const sittingEditor = { edit: () => {} };

function agendaForm() {
  const title = el("input", { id: "a-title", maxlength: 300 });
  const btn = el("button", { type: "submit", class: "primary" }, t("setup.addAgenda"));
  const form = el("form", { id: "agenda-form" }, field("common.title", title), btn);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!title.value.trim()) return title.focus();
    busy(btn, async () => {
      await post(`/api/meetings/${ctx.meetingId}/agenda`, { title: title.value.trim() });
      form.reset();
    });
  });
  return form;
}

function docForm() {
  const file = el("input", { id: "d-file", type: "file" });
  const title = el("input", { id: "d-title", maxlength: 300 });
  const btn = el("button", { type: "submit", class: "primary" }, t("doc.upload"));
  const form = el("form", { id: "doc-form" }, field("doc.file", file), field("common.title", title), btn);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) return file.focus();
    busy(btn, async () => {
      const q = new URLSearchParams({ filename: f.name, title: title.value.trim() || f.name });
      const r = await fetch(`/api/meetings/${ctx.meetingId}/documents?${q}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${session.get().token}`, "Content-Type": f.type || "application/octet-stream" },
        body: f,
      });
      if (!r.ok) {
        showError(await failed(r));
        return;
      }
      form.reset();
      flash(t("common.done"));
    });
  });
  return form;
}
