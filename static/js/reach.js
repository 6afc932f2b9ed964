// What reached a notice's addressees beyond an open page, as the secretariat reads it:
// "已推送 5 · 短信 3 · 未达 1" from the exact tally (each channel's accepted, the people
// still being tried, and those whom nothing reached), and one person's channels.

import { t } from "./i18n.js";

const KNOWN = new Set(["webpush", "log", "sms", "smslog", "dingtalk", "wecom"]);

/** A channel's name for people ("短信"); an unknown one plainly as "其他渠道". */
export function channelName(c) {
  return t(KNOWN.has(c) ? `reach.ch.${c}` : "reach.ch.other");
}

/** The line of a tally's `reach` (per channel: accepted, gone, failed, pending) and its
 * `unreached`; null when nothing was sent beyond open pages. */
export function reachLine(tally) {
  const per = tally.reach || {};
  const channels = Object.keys(per).sort((a, b) => order(a) - order(b));
  if (!channels.length) return null;
  const parts = channels.map((c) => t(c === "webpush" || c === "log" ? "reach.pushed" : "reach.texted", { channel: channelName(c), n: per[c].accepted }));
  const pending = channels.reduce((n, c) => n + per[c].pending, 0);
  if (pending) parts.push(t("reach.pending", { n: pending }));
  parts.push(t("reach.unreached", { n: tally.unreached ?? 0 }));
  return parts.join(" · ");
}

const order = (c) => ["webpush", "log", "sms", "smslog", "dingtalk", "wecom"].indexOf(c);

/** One person's channels (`channels` of a tally's person): "推送 已受理 · 短信 重试中". */
export function personReach(channels) {
  if (!channels || !channels.length) return t("reach.none");
  return channels.map((r) => `${channelName(r.channel)} ${t(`reach.state.${r.state}`)}`).join(" · ");
}

/** A `reach.attempted` message in the archive: channel, person, number, outcome, attempt. */
export function attemptText(b) {
  const outcome = ["accepted", "retried", "failed", "gone"].includes(b.outcome) ? t(`reach.outcome.${b.outcome}`) : t("reach.ch.other");
  // The provider's own code stays in the record (the export, the API): a page shows the
  // outcome, and the one reason it can say in words.
  const why = b.reason === "no_mobile" ? t("reach.noMobile") : b.reason === "no_account" ? t("reach.noAccount") : "";
  return [channelName(b.channel), b.person?.name, b.to, `${outcome}${why ? `（${why}）` : ""}`, Number.isInteger(b.attempt) ? t("reach.attempt", { n: b.attempt }) : ""].filter(Boolean).join(" · ");
}

/** A re-push's `reach` answer: what it actually did beyond the pages, per channel
 * ("在线 3 · 已推送 5 · 未达 1"); null without one. */
export function repushLine(reach) {
  if (!reach) return null;
  const parts = [t("reach.live", { n: reach.live })];
  for (const [c, v] of Object.entries(reach)) {
    if (c === "live" || c === "unreached" || typeof v !== "object") continue;
    parts.push(t("reach.pushed", { channel: channelName(c), n: v.accepted }));
    if (v.pending) parts.push(t("reach.pending", { n: v.pending }));
  }
  parts.push(t("reach.unreached", { n: reach.unreached }));
  return parts.join(" · ");
}
