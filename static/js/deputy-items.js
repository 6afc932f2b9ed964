// Deputy, "items" tab: my commit-to-do items and suggestions with every step live,
// co-signing, evaluating a reply; submitting a suggestion (alone or jointly).

import { get } from "./api.js";
import { t } from "./i18n.js";
import { ItemBoard, owedActions } from "./items.js";
import { submit } from "./outbox.js";
import { mountSearch } from "./search.js";
import { chooser } from "./picker.js";
import { busy, draft, el, field, fill, flash } from "./ui.js";

let ctx = null;
let board = null;

export async function mount(c) {
  ctx = c;
  const list = el("ul", { class: "list", id: "my-items" });
  board = new ItemBoard({ me: ctx.me, client: ctx.client, list, onFresh: drawBadge });
  fill(document.querySelector("#items .body"), list);
  await board.load("");
  drawBadge();
  mountSearch(document.querySelector("#search .body"), ["notice", "document", "opinion", "suggestion", "item"]);
  await drawSuggest();
}

export function onMessage(m) {
  if (!board || m.channel !== `deputy:${ctx.me.id}`) return;
  board.apply(m).then((mine) => mine && drawBadge(), (e) => console.error(e));
}

function drawBadge() {
  const n = board.count((item) => owedActions(item).length > 0);
  const badge = document.getElementById("items-badge");
  badge.textContent = String(n);
  badge.hidden = n === 0;
  badge.setAttribute("aria-label", t("item.toAnswer", { n }));
}

async function drawSuggest() {
  const box = document.querySelector("#suggest .body");
  if (ctx.meetingId === null) return fill(box, el("p", { class: "meta" }, t("shell.noMeeting")));
  const title = el("input", { id: "sg-title", maxlength: 300 });
  const text = el("textarea", { id: "sg-text", rows: 5, maxlength: 20000 });
  const kept = [draft(title, "suggestion-title"), draft(text, "suggestion-text")];
  // Co-signers are found among the meeting's other deputies by name, delegation or pinyin
  // initials with the shared chooser: the form holds the ones chosen, never a checkbox
  // for each of the meeting's deputies.
  const r = await get(`/api/meetings/${ctx.meetingId}/deputies`, { quiet: true }).catch(() => null);
  const people = (r?.deputies || []).filter((d) => d.id !== ctx.me.id);
  const cosigners = people.length
    ? chooser({
        items: () => people,
        key: (d) => d.id,
        text: (d) => `${d.name} ${d.delegation_name || ""}`,
        choice: (d) => ({ id: d.id, label: d.name, meta: d.delegation_name || "" }),
        label: t("item.cosigners"),
        placeholder: t("item.cosignerHint"),
        id: "sg-cosigner",
        multiple: true,
      })
    : null;
  const send = el("button", { type: "submit", class: "primary", id: "sg-send" }, t("common.submit"));
  const form = el("form", { id: "suggest-form" }, field("item.suggestTitle", title), field("item.suggestText", text), cosigners?.el, send);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!title.value.trim()) return title.focus();
    if (!text.value.trim()) return text.focus();
    const body = { meeting_id: ctx.meetingId, title: title.value.trim(), text: text.value.trim() };
    if (cosigners) body.cosigner_ids = cosigners.ids();
    busy(send, async () => {
      const r = await submit("POST", "/api/suggestions", body, "item.suggest");
      form.reset();
      cosigners?.clear();
      for (const k of kept) k.clear();
      flash(t(r.queued ? "outbox.queued" : "item.suggested"));
    });
  });
  fill(box, form);
}
