// Secretariat console: the deputies' conversations with the secretariat in this meeting,
// the newest first (a bounded list, talk.js), live from the desk; a reply to each deputy.

import { mountTalk } from "./talk.js";

let talk = null;

export async function mount(ctx) {
  const box = document.querySelector("#talk .body");
  talk = await mountTalk(box, { me: ctx.me, meetingId: ctx.meetingId, channel: `desk:${ctx.meetingId}`, query: `meeting_id=${ctx.meetingId}`, console: true });
}

export function onMessage(m) {
  talk?.onMessage(m);
}
