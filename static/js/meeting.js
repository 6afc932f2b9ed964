// The meeting a page works on, and the people and units staff pages name.

import { get, has } from "./api.js";
import { t } from "./i18n.js";
import { el } from "./ui.js";

const KEY = "hub:meeting";

/**
 * The meeting this tab works on: ?meeting=, else the one chosen before in this tab,
 * else the caller's first meeting, else the latest. Draws a picker in `pickBox` when
 * there is a choice. Resolves with {id, meetings, overview} or null.
 */
export async function chooseMeeting(me, pickBox) {
  const { meetings } = await get("/api/meetings");
  if (!meetings.length) return null;
  const ids = meetings.map((m) => m.id);
  let id = Number(new URLSearchParams(location.search).get("meeting")) || Number(sessionStorage.getItem(KEY));
  if (!ids.includes(id)) id = (me.meetings || []).find((m) => ids.includes(m)) ?? ids[ids.length - 1];
  sessionStorage.setItem(KEY, String(id));
  if (pickBox && meetings.length > 1) {
    const sel = el(
      "select",
      { id: "meeting-select", "aria-label": t("shell.meeting") },
      meetings.map((m) => el("option", { value: m.id }, m.title)),
    );
    sel.value = String(id);
    sel.addEventListener("change", () => {
      sessionStorage.setItem(KEY, sel.value);
      location.reload();
    });
    pickBox.replaceChildren(sel);
  }
  const overview = await get(`/api/meetings/${id}`);
  return { id, meetings, overview };
}

/**
 * Accounts, delegations and units for staff pages. Names of units and delegations come
 * from /api/units and /api/delegations when the server offers them; otherwise a unit
 * is named after its first account and a delegation as the points list names it.
 * Resolves with {users, deputies, byId, units: Map(id→name), delegations: Map(id→name)}.
 */
export async function directory() {
  const { users } = await get("/api/admin/users");
  const byId = new Map(users.map((u) => [u.id, u]));
  const deputies = users.filter((u) => u.role === "deputy" && u.active !== false);
  const units = new Map();
  if (await has("GET", "/api/units")) {
    const r = await get("/api/units");
    for (const u of r.units || []) units.set(u.id, u.name);
  } else {
    for (const u of users) if (u.unit_id && !units.has(u.unit_id)) units.set(u.unit_id, u.name.split(" · ")[0]);
  }
  const delegations = new Map();
  if (await has("GET", "/api/delegations")) {
    const r = await get("/api/delegations");
    for (const d of r.delegations || []) delegations.set(d.id, d.name);
  } else {
    // The points list names each deputy's delegation.
    const r = await get("/api/points", { quiet: true }).catch(() => ({ deputies: [] }));
    for (const d of r.deputies || []) if (d.delegation) delegations.set(d.delegation.id, d.delegation.name);
    for (const u of deputies)
      if (u.delegation_id && !delegations.has(u.delegation_id))
        delegations.set(u.delegation_id, t("common.delegation", { n: u.delegation_id }));
  }
  const sorted = (m) => new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
  return { users, deputies, byId, units: sorted(units), delegations: sorted(delegations) };
}
