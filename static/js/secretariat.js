// The secretariat's console (laptop): notices with live tallies, the opinions stream,
// items, the overdue board, attendance, speakers, the meeting's schedule and the roster import.

import { get } from "./api.js";
import { t } from "./i18n.js";
import { chooseMeeting, directory } from "./meeting.js";
import { mountRoster } from "./roster.js";
import * as attendance from "./sec-attendance.js";
import * as items from "./sec-items.js";
import * as notices from "./sec-notices.js";
import * as opinions from "./sec-opinions.js";
import * as setup from "./sec-setup.js";
import * as speakers from "./sec-speakers.js";
import * as talk from "./sec-talk.js";
import { replaceSitting } from "./sittings.js";
import { startPage } from "./ui.js";

const { me, client } = await startPage(["secretariat"], "page.secretariat");
const chosen = await chooseMeeting(me, document.getElementById("meeting-pick"));
if (!chosen) {
  document.getElementById("meeting-title").textContent = t("shell.noMeeting");
} else {
  document.getElementById("meeting-title").textContent = chosen.overview.meeting.title;
  const ctx = {
    me,
    client,
    meetingId: chosen.id,
    overview: chosen.overview,
    dir: await directory(chosen.id),
    bus: new EventTarget(),
    selection: new Set(), // opinion ids chosen for a commit-to-do item
  };
  // The meeting's secretariat imports its deputies (a meeting it runs: docs/client.md).
  const roster = {
    mount: (c) => {
      const runs = (c.me.meetings || []).includes(c.meetingId);
      document.getElementById("roster").hidden = !runs;
      document.querySelector('nav a[href="#roster"]').hidden = !runs;
      if (runs) mountRoster(document.querySelector("#roster .body"), c.meetingId);
    },
  };
  const parts = [notices, opinions, items, attendance, speakers, talk, setup, roster];
  client.addEventListener("message", (ev) => {
    const m = ev.detail;
    if (m.channel === `meeting:${ctx.meetingId}`) {
      const o = ctx.overview;
      if (m.kind === "sitting.created" && !o.sittings.some((s) => s.id === m.body.sitting.id)) {
        o.sittings.push(m.body.sitting);
        o.sittings.sort((a, b) => a.starts_at.localeCompare(b.starts_at) || a.id - b.id);
        ctx.bus.dispatchEvent(new Event("overview"));
      } else if ((m.kind === "sitting.closed" || m.kind === "sitting.edited") && replaceSitting(o.sittings, m.body.sitting)) {
        ctx.bus.dispatchEvent(new Event("overview"));
      } else if (m.kind === "agenda.changed") {
        o.agenda = o.agenda.map((a) => (a.id === m.body.agenda_item.id ? m.body.agenda_item : a));
        o.agenda.sort((a, b) => a.position - b.position || a.id - b.id);
        ctx.bus.dispatchEvent(new Event("overview"));
      } else if (m.kind === "agenda.created" && !o.agenda.some((a) => a.id === m.body.agenda_item.id)) {
        o.agenda.push(m.body.agenda_item);
        o.agenda.sort((a, b) => a.position - b.position || a.id - b.id);
        ctx.bus.dispatchEvent(new Event("overview"));
      }
    }
    for (const p of parts) p.onMessage?.(m, ctx);
  });
  // The parts load what they show over HTTP; the channels are followed from the heads read
  // before that (what changed in between comes again and is applied once), so a fresh
  // browser starts from the present instead of replaying the meeting's whole history.
  const channels = [`desk:${ctx.meetingId}`, `meeting:${ctx.meetingId}`];
  const heads = await Promise.all(channels.map((c) => get(`/api/channels/${c}/messages?limit=1`).then((r) => r.head)));
  // One part failing to load (its error is shown) leaves the others working.
  await Promise.all(parts.map((p) => Promise.resolve(p.mount?.(ctx)).catch((e) => console.error(e))));
  channels.forEach((c, i) => client.subscribe(c, { since: heads[i] }));
}
client.start();
