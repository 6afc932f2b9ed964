// The admin's accounts: found by words, role and delegation a page at a time (a city has
// some 500 accounts: the list holds one page, the hub counts the matches), created, and
// one at a time edited: name, phone, delegation (a deputy), unit (a unit account), the
// meetings it takes part in; deactivated or activated; its password reset; every browser
// it is signed in on signed out.

import { api, get, post } from "./api.js";
import { t } from "./i18n.js";
import { busy, el, field, fill, flash } from "./ui.js";

const PAGE = 20;
const ROLES = ["deputy", "secretariat", "unit", "supervisor", "admin"];

let ctx = null;
const filters = { q: "", role: "", delegation: "" };
let offset = 0;
let loading = 0;
let ui = null;

const nameOf = (list, id) => list.find((x) => x.id === id)?.name ?? "";

function options(list, empty) {
  return [empty ? el("option", { value: "" }, empty) : null, ...list.map((x) => el("option", { value: x.id }, x.name))];
}

export async function mount(c) {
  ctx = c;
  const words = el("input", { type: "search", id: "acc-q", maxlength: 100, placeholder: t("adm.searchHint"), "aria-label": t("common.search") });
  let timer = null;
  words.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      filters.q = words.value.trim();
      offset = 0;
      reload().catch(() => {});
    }, 250);
  });
  const role = el("select", { id: "acc-role", "aria-label": t("adm.role") }, el("option", { value: "" }, t("adm.anyRole")), ROLES.map((r) => el("option", { value: r }, t(`role.${r}`))));
  const delegation = el("select", { id: "acc-delegation", "aria-label": t("setup.delegation") });
  const drawDelegations = () => {
    const was = delegation.value;
    fill(delegation, options(ctx.delegations, t("op.anyDelegation")));
    delegation.value = was;
  };
  ctx.bus.addEventListener("directory", drawDelegations);
  drawDelegations();
  for (const [control, key] of [[role, "role"], [delegation, "delegation"]])
    control.addEventListener("change", () => {
      filters[key] = control.value;
      offset = 0;
      reload().catch(() => {});
    });
  const count = el("p", { class: "meta", id: "acc-count" });
  const list = el("ul", { class: "list", id: "acc-list" });
  const prev = el("button", { type: "button", id: "acc-prev" }, t("adm.prev"));
  const next = el("button", { type: "button", id: "acc-next" }, t("adm.next"));
  prev.addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE);
    busy(prev, reload);
  });
  next.addEventListener("click", () => {
    offset += PAGE;
    busy(next, reload);
  });
  const editor = el("div", { id: "acc-editor" });
  ui = { count, list, prev, next, editor };
  fill(
    document.querySelector("#accounts .body"),
    el(
      "div",
      { class: "console" },
      el("div", {}, el("div", { class: "row" }, words, role, delegation), count, list, el("div", { class: "row" }, prev, next)),
      el("div", {}, editor, createForm()),
    ),
  );
  await reload();
}

async function reload() {
  const mine = ++loading;
  const p = new URLSearchParams({ limit: PAGE, offset });
  for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
  const r = await get(`/api/admin/users?${p}`);
  if (mine !== loading) return;
  ui.count.textContent = r.total ? t("adm.accountCount", { from: offset + 1, to: offset + r.users.length, n: r.total }) : t("adm.noAccounts");
  ui.prev.disabled = offset === 0;
  ui.next.disabled = offset + r.users.length >= r.total;
  fill(ui.list, r.users.map(row));
}

function row(u) {
  const where = u.role === "deputy" ? nameOf(ctx.delegations, u.delegation_id) : u.role === "unit" ? nameOf(ctx.units, u.unit_id) : "";
  return el(
    "li",
    { "data-account": u.id },
    el(
      "div",
      { class: "row" },
      el("span", { class: "grow" }, el("strong", {}, u.name), ` ${u.username} · ${t(`role.${u.role}`)}${where ? ` · ${where}` : ""}`),
      u.active ? null : el("span", { class: "chip bad" }, t("adm.inactive")),
      el("button", { type: "button", class: "ghost", onclick: () => edit(u.id) }, t("adm.edit")),
    ),
  );
}

async function edit(id) {
  const a = await get(`/api/admin/users/${id}`);
  const name = el("input", { id: "acc-name", value: a.name, maxlength: 300 });
  const phone = el("input", { id: "acc-phone", value: a.phone || "", maxlength: 20, inputmode: "tel" });
  const dele = el("select", { id: "acc-edit-delegation" }, options(ctx.delegations, a.delegation_id ? null : t("adm.none")));
  dele.value = a.delegation_id ?? "";
  const unit = el("select", { id: "acc-edit-unit" }, options(ctx.units, a.unit_id ? null : t("adm.none")));
  unit.value = a.unit_id ?? "";
  const meetings = el(
    "fieldset",
    { id: "acc-meetings" },
    el("legend", {}, t("adm.field.meetings")),
    ctx.meetings.map((m) => el("label", { class: "row" }, el("input", { type: "checkbox", value: m.id, checked: a.meetings.includes(m.id) }), m.title)),
  );
  const save = el("button", { type: "submit", class: "primary", id: "acc-save" }, t("adm.save"));
  const form = el(
    "form",
    { id: "acc-form" },
    field("adm.field.name", name),
    field("adm.field.phone", phone),
    a.role === "deputy" ? field("adm.field.delegation", dele) : null,
    a.role === "unit" ? field("adm.field.unit", unit) : null,
    meetings,
    save,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {
      name: name.value.trim() || undefined,
      phone: phone.value.trim(),
      meetings: [...meetings.querySelectorAll("input:checked")].map((x) => Number(x.value)),
    };
    if (a.role === "deputy" && dele.value) body.delegation_id = Number(dele.value);
    if (a.role === "unit" && unit.value) body.unit_id = Number(unit.value);
    busy(save, async () => {
      await api("PATCH", `/api/admin/users/${id}`, body);
      flash(t("common.done"));
      await reload();
    });
  });
  const active = el("button", { type: "button", id: "acc-active", class: a.active ? "danger" : "" }, t(a.active ? "adm.deactivate" : "adm.activate"));
  active.addEventListener("click", () =>
    busy(active, async () => {
      await post(`/api/admin/users/${id}/${a.active ? "deactivate" : "activate"}`);
      flash(t("common.done"));
      await reload();
      await edit(id);
    }),
  );
  const signOut = el("button", { type: "button", id: "acc-signout" }, t("adm.signOutAll"));
  signOut.addEventListener("click", () =>
    busy(signOut, async () => {
      const r = await post(`/api/users/${id}/devices/sign-out`);
      flash(t("adm.signedOut", { n: r.signed_out }));
    }),
  );
  const pw = el("input", { id: "acc-password", type: "password", autocomplete: "new-password", maxlength: 256 });
  const setPw = el("button", { type: "submit", id: "acc-password-set" }, t("adm.resetPassword"));
  const pwForm = el("form", { class: "row" }, field("adm.newPassword", pw, t("adm.passwordHint")), setPw);
  pwForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!pw.value) return pw.focus();
    busy(setPw, async () => {
      await post(`/api/admin/users/${id}/password`, { password: pw.value });
      pwForm.reset();
      flash(t("common.done"));
    });
  });
  fill(
    ui.editor,
    el("h3", {}, t("adm.editing", { name: a.name, username: a.username, role: t(`role.${a.role}`) })),
    a.active ? null : el("p", { class: "chip bad" }, t("adm.inactive")),
    form,
    pwForm,
    el("div", { class: "row" }, active, signOut),
  );
}

function createForm() {
  const username = el("input", { id: "new-username", maxlength: 100, autocomplete: "off" });
  const name = el("input", { id: "new-name", maxlength: 300 });
  const role = el("select", { id: "new-role" }, ROLES.map((r) => el("option", { value: r }, t(`role.${r}`))));
  const dele = el("select", { id: "new-delegation" });
  const unit = el("select", { id: "new-unit" });
  const password = el("input", { id: "new-password", type: "password", autocomplete: "new-password", maxlength: 256 });
  const delField = field("adm.field.delegation", dele);
  const unitField = field("adm.field.unit", unit);
  const shape = () => {
    delField.hidden = role.value !== "deputy";
    unitField.hidden = role.value !== "unit";
  };
  const drawLists = () => {
    fill(dele, options(ctx.delegations));
    fill(unit, options(ctx.units));
  };
  ctx.bus.addEventListener("directory", drawLists);
  drawLists();
  role.addEventListener("change", shape);
  shape();
  const add = el("button", { type: "submit", class: "primary", id: "new-create" }, t("adm.createAccount"));
  const form = el("form", { id: "account-form" }, el("h3", {}, t("adm.createAccount")), field("login.username", username), field("adm.field.name", name), field("adm.role", role), delField, unitField, field("adm.password", password, t("adm.passwordHint")), add);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!username.value.trim()) return username.focus();
    if (!name.value.trim()) return name.focus();
    const body = { username: username.value.trim(), name: name.value.trim(), role: role.value };
    if (password.value) body.password = password.value;
    if (role.value === "deputy" && dele.value) body.delegation_id = Number(dele.value);
    if (role.value === "unit" && unit.value) body.unit_id = Number(unit.value);
    busy(add, async () => {
      const r = await post("/api/admin/users", body);
      form.reset();
      shape();
      flash(t("common.done"));
      await reload();
      await edit(r.id);
    });
  });
  return form;
}
