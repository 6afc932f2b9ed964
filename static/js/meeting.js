// The meeting a page works on, and the people and units staff pages name.

import { get } from "./api.js";
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
 * The meeting's deputies and the names of delegations and units, for staff pages.
 * Resolves with {deputies: [{id, name, delegation_id, delegation_name}], byId,
 * units: Map(id→name), delegations: Map(id→name)}.
 */
export async function directory(meetingId) {
  const [d, u, g] = await Promise.all([get(`/api/meetings/${meetingId}/deputies`), get("/api/units"), get("/api/delegations")]);
  return {
    deputies: d.deputies,
    byId: new Map(d.deputies.map((x) => [x.id, x])),
    units: new Map(u.units.map((x) => [x.id, x.name])),
    delegations: new Map(g.delegations.map((x) => [x.id, x.name])),
  };
}
