// A deputy's conversation with the secretariat (信息互动), as the deputy's page and the
// secretariat's console show it: the newest messages (a bounded list read from the log
// through GET /api/conversations), each new one live from the channel it is appended to,
// and a form that writes through the outbox (POST /api/conversations, with its
// Idempotency-Key). On the console each message offers a reply to its deputy.

import { get } from "./api.js";
import { t } from "./i18n.js";
import { submit } from "./outbox.js";
import { busy, chip, draft, el, field, fill, flash, when } from "./ui.js";

export const LIMIT = 50; // messages shown: the newest

/**
 * @param {HTMLElement} box
 * @param {object} o
 * @param {object} o.me            the caller (/api/me)
 * @param {number} o.meetingId     the meeting written in
 * @param {string} o.channel       the channel whose conversation messages this list shows
 * @param {string} o.query         GET /api/conversations?… (without limit)
 * @param {boolean} o.console      the secretariat's: each message names its deputy and
 *                                 offers a reply; without it, the deputy's own thread
 * @returns {{onMessage(m): void}}
 */
export async function mountTalk(box, { me, meetingId, channel, query, console: desk = false }) {
  const list = el("ul", { class: "list talk-list", "aria-live": "polite" });
  const shown = new Map(); // message id -> li
  let replyTo = null; // the console: {id, name} of the deputy answered
  const text = el("textarea", { id: desk ? "talk-reply-text" : "talk-text", rows: 2, maxlength: 2000 });
  const kept = draft(text, desk ? "talk-reply" : "talk");
  const to = el("p", { class: "meta talk-to" });
  const send = el("button", { type: "submit", class: "primary" }, t("talk.send"));
  const form = el("form", { class: "talk-form", hidden: desk }, to, field(desk ? "talk.reply" : "talk.text", text), el("div", { class: "row" }, send));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return text.focus();
    const body = { meeting_id: meetingId, text: text.value.trim() };
    if (desk) body.deputy_id = replyTo.id;
    busy(send, async () => {
      const r = await submit("POST", "/api/conversations", body, "talk.send");
      text.value = "";
      kept.clear();
      if (r.queued) return flash(t("outbox.queued"));
      // The answer is the copy on the deputy's channel; the console lists the desk's copy
      // (another id), which comes live.
      if (desk) form.hidden = true;
      else add(r.data);
      flash(t("talk.sent"));
    });
  });

  function reply(deputy) {
    replyTo = deputy;
    to.textContent = t("talk.replyTo", { name: deputy.name });
    form.hidden = false;
    text.focus();
  }

  function line(m) {
    const mine = m.sender.id === me.id;
    const staff = t("role.secretariat");
    const who = m.sender.role === "secretariat" && !m.sender.name.includes(staff) ? `${staff} · ${m.sender.name}` : m.sender.name;
    const li = el(
      "li",
      { class: `talk ${mine ? "mine" : ""}`, "data-talk": m.id, "data-deputy": m.deputy.id },
      el("div", { class: "meta" }, `${when(m.at)} · ${who}`, desk && m.sender.role !== "deputy" ? [" ", chip(t("talk.toDeputy", { name: m.deputy.name }), "info")] : null),
      el("p", { class: "text" }, m.text),
    );
    if (desk) {
      const b = el("button", { type: "button", class: "talk-reply" }, t("talk.replyTo", { name: m.deputy.name }));
      b.addEventListener("click", () => reply(m.deputy));
      li.append(el("div", { class: "row" }, b));
    }
    return li;
  }

  function add(m) {
    if (shown.has(m.id)) return;
    const li = line(m);
    shown.set(m.id, li);
    list.querySelector(":scope > li.empty")?.remove();
    // newest first, by the log's id
    const after = [...shown.keys()].filter((id) => id > m.id).length;
    list.insertBefore(li, list.children[after] || null);
    while (shown.size > LIMIT) {
      const oldest = Math.min(...shown.keys());
      shown.get(oldest).remove();
      shown.delete(oldest);
    }
  }

  const r = await get(`/api/conversations?${query}&limit=${LIMIT}`);
  fill(box, desk ? null : form, list, desk ? form : null);
  for (const m of r.messages) add(m);
  if (!shown.size) fill(list, el("li", { class: "meta empty" }, t(desk ? "talk.noneConsole" : "talk.none")));
  return {
    onMessage(m) {
      if (m.channel !== channel || m.kind !== "conversation.message" || !m.body?.deputy) return;
      add({ id: m.id, at: m.ts, sender: m.sender, meeting_id: m.body.meeting_id, deputy: m.body.deputy, text: m.body.text });
    },
  };
}
