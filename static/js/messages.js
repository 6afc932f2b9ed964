// Stored messages as the people reading the archive say them: the kind as a label, the
// channel by name (the server sends `place`), and the body as what it is — a notice, an
// opinion, an item's step — never JSON. Every kind the hub appends has a `kind.<kind>`
// label in every language (tests/supervision/test_labels.py); a kind published raw by the
// secretariat is named as such.

import { STRINGS, day, lang, t } from "./i18n.js";
import { eventText } from "./items.js";
import { attemptText } from "./reach.js";

/** The kinds the hub appends, each with its label in the page's language. */
export function kindChoices() {
  const table = STRINGS[lang()] || STRINGS["zh-CN"];
  return Object.keys(table)
    .filter((k) => k.startsWith("kind.") && k !== "kind.raw")
    .map((k) => ({ id: k.slice(5), label: table[k] }));
}

export function kindLabel(kind) {
  const key = `kind.${kind}`;
  const s = t(key);
  return s === key ? t("kind.raw", { kind }) : s;
}

const GONE = { meeting: "shell.meeting", desk: "arch.deskChannel", delegation: "arch.delegation", deputy: "arch.deputy", unit: "arch.unit" };

/** The channel by name: 会议“…”, 代表团“…”, 代表 张三, 单位 交通局, 秘书处工作台（…）. */
export function placeText(place) {
  if (!place) return "—";
  if (place.name === null || place.name === undefined) return t("arch.place.gone", { what: t(GONE[place.kind] || "arch.channel") });
  return t(`arch.place.${place.kind}`, { name: place.name });
}

/** The sender as the archive shows it: the hub itself by its role, anyone else by name. */
export function senderName(sender) {
  return sender.role === "system" ? t("role.system") : sender.name;
}

const names = (people, max = 8) => {
  const list = (people || []).map((p) => p.name);
  return list.length > max ? `${list.slice(0, max).join("、")}…` : list.join("、");
};

function groupName(x) {
  return x ? x.name : "";
}

function ruleText(r) {
  if (!r) return "";
  return t("adm.amount", { n: r.amount, unit: t(`adm.unit.${r.unit}`) });
}

/** One set-up message (setup:1) as a sentence: who changed what. */
export function setupText(m) {
  const b = m.body || {};
  const who = m.sender?.name || "";
  const a = b.account || {};
  const p = { who, name: a.name || "", username: a.username || "", role: a.role ? t(`role.${a.role}`) : "" };
  switch (m.kind) {
    case "setup.account_created":
      return t("adm.log.accountCreated", p);
    case "setup.account_changed":
      return t("adm.log.accountChanged", { ...p, fields: (b.changed || []).map((f) => t(`adm.field.${f}`)).join("、") });
    case "setup.account_deactivated":
      return t("adm.log.accountDeactivated", p);
    case "setup.account_activated":
      return t("adm.log.accountActivated", p);
    case "setup.password_reset":
      return t("adm.log.passwordReset", p);
    case "setup.devices_signed_out":
      return t("adm.log.devicesSignedOut", { ...p, n: b.signed_out ?? 0 });
    case "setup.delegation_created":
      return t("adm.log.delegationCreated", { who, name: groupName(b.delegation) });
    case "setup.delegation_renamed":
      return t("adm.log.delegationRenamed", { who, name: groupName(b.delegation), was: b.was || "" });
    case "setup.unit_created":
      return t("adm.log.unitCreated", { who, name: groupName(b.unit) });
    case "setup.unit_renamed":
      return t("adm.log.unitRenamed", { who, name: groupName(b.unit), was: b.was || "" });
    case "setup.meeting_created":
      return t("adm.log.meetingCreated", { who, title: b.meeting?.title || "" });
    case "setup.meeting_changed":
      return t("adm.log.meetingChanged", { who, title: b.meeting?.title || "" });
    case "setup.points_rules_added":
      return t("adm.log.pointsAdded", { who, date: b.ruleset?.valid_from ? day(b.ruleset.valid_from) : "" });
    case "setup.points_rules_withdrawn":
      return t("adm.log.pointsWithdrawn", { who, date: b.ruleset?.valid_from ? day(b.ruleset.valid_from) : "" });
    case "setup.deadline_rule_changed":
      return t("adm.log.deadlineChanged", { who, rule: b.rule?.name ? t(`dl.${b.rule.name}`) : "", was: ruleText(b.was), now: ruleText(b.rule) });
    case "setup.calendar_changed":
      return t("adm.log.calendarChanged", { who, year: b.year ?? "", h: (b.holidays || []).length, w: (b.workdays || []).length });
    default:
      return t("adm.log.other", { who });
  }
}

const LEAVE = { pending: "arch.leave.pending", approved: "arch.leave.approved", refused: "arch.leave.refused" };
const SPEAKER = { waiting: "spk.waiting", speaking: "spk.speaking", done: "spk.done", withdrawn: "spk.withdrawnState" };

/**
 * What a message says, as text: {title, text} (either may be empty).
 * @param {object} m  the stored message (kind, body)
 * @param {Map<number, string>} units  unit id -> name (items' hand-overs)
 */
export function messageText(m, units) {
  const b = m.body || {};
  const family = m.kind.split(".", 1)[0];
  switch (family) {
    case "notice": {
      if (m.kind === "notice.tally") return { title: t("arch.tally", { delivered: b.delivered ?? 0, addressees: b.addressees ?? 0, read: b.read ?? 0 }), text: b.missing_people?.length ? `${t("notice.missing")}：${names(b.missing_people)}` : "" };
      if (m.kind === "notice.repushed") return { title: t("arch.repushed", { n: (b.to || []).length, names: names(b.to) }), text: "" };
      if (m.kind === "notice.withdrawn") return { title: t("arch.withdrawn", { reason: b.reason || "—" }), text: "" };
      if (m.kind === "notice.corrected") return { title: t("arch.corrected", { title: b.title || "" }), text: [b.text, b.reason ? `${t("common.reason")}：${b.reason}` : ""].filter(Boolean).join("\n") };
      const n = b.notice && typeof b.notice === "object" ? b.notice : b; // notice.sent carries the notice
      return { title: n.title || "", text: n.text || "" };
    }
    case "opinion": {
      const o = b.opinion || {};
      const who = o.deputy?.name || o.deputy_name || "";
      return { title: who, text: [o.text, m.kind === "opinion.merged" && b.into ? t("arch.merged", { n: b.into }) : ""].filter(Boolean).join(" · ") };
    }
    case "item":
    case "suggestion": {
      const i = b.item || {};
      const x = b.event ? eventText(b.event, units) : { who: "", what: "", text: "" };
      const head = [i.id ? `#${i.id}` : "", i.title || "", i.kind ? t(i.kind === "commit" ? "item.commit" : "item.suggestion") : ""].filter(Boolean).join(" ");
      return { title: head, text: [x.what, x.text].filter(Boolean).join(" · ") };
    }
    case "attendance": {
      if (m.kind === "attendance.checked_in") return { title: t("arch.checkedIn", { name: b.deputy?.name || "" }), text: "" };
      const l = b.leave || {};
      return { title: t(LEAVE[l.status] || "arch.leave.pending", { name: l.deputy?.name || "", reason: l.reason || "" }), text: l.note || "" };
    }
    case "speaker": {
      const r = b.request || {};
      return { title: t("arch.speaker", { name: r.deputy?.name || "", status: t(SPEAKER[r.status] || "spk.waiting") }), text: "" };
    }
    case "speakers":
      return { title: t("arch.queue", { names: names((b.queue || []).map((r) => r.deputy || {})) }), text: "" };
    case "sitting":
      return { title: b.sitting?.title || "", text: b.sitting?.place || "" };
    case "agenda":
      return { title: b.agenda_item?.title || "", text: "" };
    case "setup":
      return { title: setupText(m), text: "" };
    case "conversation":
      return { title: b.deputy?.name ? t("arch.conversation", { name: b.deputy.name }) : "", text: typeof b.text === "string" ? b.text : "" };
    case "document":
      return { title: b.document?.title || "", text: b.document?.filename || "" };
    case "registration": {
      const r = b.registration || {};
      return { title: [r.deputy?.name, r.kind ? t(`perf.activity.${r.kind}`) : "", r.title].filter(Boolean).join(" · "), text: r.reason ? `${t("common.reason")}：${r.reason}` : "" };
    }
    case "points": {
      const d = b.dispute || {};
      if (m.kind === "points.disputed") return { title: t("arch.dispute", { reason: d.reason || "" }), text: "" };
      return { title: t("arch.disputeResolved", { state: d.state ? t(`arch.dispute.${d.state}`) : "", resolution: d.resolution || "" }), text: d.reason || "" };
    }
    case "presence":
      return { title: t("arch.presence", { on: (b.online || []).length, off: (b.offline || []).length }), text: names(b.online) };
    case "reach":
      return { title: attemptText(b), text: "" };
    case "roster": {
      if (m.kind === "roster.passwords_issued") {
        const p = b.passwords || {};
        const who = p.accounts || [];
        return { title: t("roster.logPasswords", { n: who.length }), text: who.join("、") };
      }
      const r = b.roster || {};
      const made = [...(r.created_delegations || []), ...(r.created_units || [])];
      return { title: t("roster.logLine", { file: r.filename || "—", new: r.new ?? 0, updated: r.updated ?? 0, joined: r.joined ?? 0 }), text: made.length ? t("roster.logCreated", { names: made.join("、") }) : "" };
    }
    default: {
      // a raw publish: its own title or text, if it has one
      const main = [b.title, b.text].filter((x) => typeof x === "string" && x).join(" · ");
      return { title: main || t("arch.noText"), text: "" };
    }
  }
}
