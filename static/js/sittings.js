// A sitting picker shared by the attendance board, the speakers list and the deputy's
// check-in: sittings in time order, the current or next one chosen first.

import { t, timeOfDay } from "./i18n.js";
import { el, when } from "./ui.js";

/** Has the sitting ended: closed by the secretariat, or past its scheduled end? (The
 * server's rule, hub/session/meetings.py `sitting_ended`.) */
export function sittingEnded(s, now = Date.now()) {
  return !!s.closed_at || (!!s.ends_at && Date.parse(s.ends_at) <= now);
}

export function sittingLabel(s) {
  return `${when(s.starts_at)} ${t(s.kind === "group" ? "att.group" : "att.plenary")} · ${s.title}`;
}

/** The label in a list or a choice of sittings: "（已结束）" after an ended one. */
export function sittingOption(s) {
  return sittingEnded(s) ? `${sittingLabel(s)}（${t("att.closed")}）` : sittingLabel(s);
}

/** Put a sitting the server sent (sitting.closed, sitting.edited) in place of the one the
 * list holds, the list kept in time order (an edit may move it). */
export function replaceSitting(sittings, s) {
  const i = sittings.findIndex((x) => x.id === s.id);
  if (i < 0) return false;
  sittings[i] = { ...sittings[i], ...s };
  sittings.sort((a, b) => a.starts_at.localeCompare(b.starts_at) || a.id - b.id);
  return true;
}

/** The sitting's check-in window in words ("签到时间：08:30至09:30"), or null if it has none. */
export function windowText(s) {
  const from = s.checkin_opens_at ? timeOfDay(s.checkin_opens_at) : null;
  const to = s.checkin_closes_at ? timeOfDay(s.checkin_closes_at) : null;
  if (from && to) return t("att.window", { from, to });
  if (from) return t("att.windowFrom", { from });
  if (to) return t("att.windowTo", { to });
  return null;
}

/** Where the check-in window stands now: "soon" (not open yet), "over" or "open". */
export function windowState(s, now = Date.now()) {
  if (s.checkin_opens_at && now < Date.parse(s.checkin_opens_at)) return "soon";
  if (s.checkin_closes_at && now > Date.parse(s.checkin_closes_at)) return "over";
  return "open";
}

/** Seconds as "5:00" (minutes:seconds; "1:05:00" from an hour). */
export function duration(sec) {
  const s = Math.max(0, Math.round(sec));
  const two = (n) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/** The sitting going on now, else the next one, else the last one. */
export function currentSitting(sittings, now = Date.now()) {
  if (!sittings.length) return null;
  const on = sittings.find((s) => Date.parse(s.starts_at) <= now && !sittingEnded(s, now));
  if (on) return on;
  const next = sittings.find((s) => Date.parse(s.starts_at) > now);
  return next || sittings[sittings.length - 1];
}

/**
 * A labelled <select> of sittings (optionally filtered), kept in sync with
 * ctx.overview; calls onChange(sitting) when the choice changes.
 */
export function sittingPicker(ctx, id, onChange, filter = () => true) {
  const sel = el("select", { id });
  let current = null;
  const draw = () => {
    const list = ctx.overview.sittings.filter(filter);
    const keep = current && list.some((s) => s.id === current) ? current : currentSitting(list)?.id ?? null;
    sel.replaceChildren(...list.map((s) => el("option", { value: s.id }, sittingOption(s))));
    sel.disabled = !list.length;
    if (keep !== null) sel.value = String(keep);
    if (keep !== current) {
      current = keep;
      onChange(list.find((s) => s.id === keep) || null);
    }
  };
  sel.addEventListener("change", () => {
    current = Number(sel.value);
    onChange(ctx.overview.sittings.find((s) => s.id === current) || null);
  });
  ctx.bus?.addEventListener("overview", draw);
  return { sel, draw, get: () => ctx.overview.sittings.find((s) => s.id === current) || null };
}
