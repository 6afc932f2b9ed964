// Deputy, "meeting" tab: my conversation with the secretariat (talk.js), on my own
// channel deputy:<id>.

import { t } from "./i18n.js";
import { mountTalk } from "./talk.js";
import { el, fill } from "./ui.js";

let talk = null;

export async function mount(ctx) {
  const box = document.querySelector("#talk .body");
  if (ctx.meetingId === null) return fill(box, el("p", { class: "meta" }, t("shell.noMeeting")));
  talk = await mountTalk(box, { me: ctx.me, meetingId: ctx.meetingId, channel: `deputy:${ctx.me.id}`, query: "" });
}

export function onMessage(m) {
  talk?.onMessage(m);
}
