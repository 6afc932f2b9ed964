// The web client's parts, imported and exercised without a page (node --test). Run by
// tests/test_js_units.py. Every module of static/js except the six page entry points
// (one per HTML page) must import without a DOM and leave no timer behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const JS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "static", "js");
const PAGES = new Set(["admin.js", "deputy.js", "login.js", "secretariat.js", "supervisor.js", "unit.js"]);
const parts = readdirSync(JS).filter((f) => f.endsWith(".js") && !PAGES.has(f));

test("every page part imports without a page and starts no timer", async () => {
  assert.ok(parts.length >= 15, `only ${parts.length} parts found`);
  const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  for (const f of parts) await import(join(JS, f));
  const after = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  assert.equal(after, before, "importing a part started a timer (it would run without a page)");
});

const i18n = await import(join(JS, "i18n.js"));
const ui = await import(join(JS, "ui.js"));
const picker = await import(join(JS, "picker.js"));

const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test("both languages have the same keys and the same placeholders", () => {
  const zh = i18n.STRINGS["zh-CN"];
  const en = i18n.STRINGS.en;
  assert.deepEqual(Object.keys(en).sort(), Object.keys(zh).sort());
  for (const k of Object.keys(zh)) assert.deepEqual(placeholders(en[k]), placeholders(zh[k]), k);
});

test("every key a page part names with t(\"…\") exists", () => {
  const zh = i18n.STRINGS["zh-CN"];
  const missing = [];
  for (const f of readdirSync(JS).filter((x) => x.endsWith(".js"))) {
    for (const m of readFileSync(join(JS, f), "utf8").matchAll(/\bt\("([a-zA-Z0-9_.]+)"/g))
      if (!Object.hasOwn(zh, m[1])) missing.push(`${f}: ${m[1]}`);
  }
  assert.deepEqual(missing, []);
});

test("t fills placeholders and falls back to the key", () => {
  assert.equal(i18n.t("notice.followCounts", { missing: 3, unread: 4 }), "未送达 3 人 · 未读 4 人");
  assert.equal(i18n.t("no.such.key"), "no.such.key");
});

test("errorText speaks the user's language, never the server's message", () => {
  const wrong = { code: "forbidden", message: "secretariat 3 may not subscribe to desk:1" };
  assert.equal(i18n.errorText(wrong), i18n.t("error.forbidden"));
  assert.ok(!i18n.errorText(wrong).includes("secretariat"));
  assert.equal(i18n.errorText({ code: "no_such_code" }), i18n.t("error.unknown"));
  assert.equal(
    i18n.errorText({ code: "bad_request", field: "phone" }),
    i18n.t("error.field", { field: i18n.t("errf.phone") }),
  );
  assert.equal(
    i18n.errorText({ code: "conflict", reason: "sitting_closed" }),
    i18n.t("conflict.sitting_closed"),
  );
  assert.match(i18n.errorText({ code: "rate_limited", retry_after: 7 }), /7/);
});

test("countdown says overdue, due soon and how long", () => {
  const now = Date.parse("2026-12-07T00:00:00Z");
  const late = ui.countdown("2026-12-06T22:00:00Z", now);
  assert.equal(late.overdue, true);
  assert.equal(late.text, i18n.t("time.overdue", { d: i18n.t("time.hours", { n: 2 }) + " " + i18n.t("time.mins", { n: 0 }) }));
  const soon = ui.countdown("2026-12-07T05:30:00Z", now);
  assert.deepEqual([soon.overdue, soon.soon], [false, true]);
  const far = ui.countdown("2026-12-10T01:00:00Z", now);
  assert.deepEqual([far.overdue, far.soon], [false, false]);
  assert.ok(far.text.includes(i18n.t("time.days", { n: 3 })));
});

test("searchIn finds entries holding every word typed, at most 20", () => {
  const people = [
    { name: "王建国", delegation: "定海代表团" },
    { name: "王建华", delegation: "普陀代表团" },
    { name: "李建国", delegation: "定海代表团" },
    ...Array.from({ length: 40 }, (_, i) => ({ name: `王${i}`, delegation: "岱山代表团" })),
  ];
  const search = picker.searchIn(
    () => people,
    (p) => `${p.name} ${p.delegation}`,
    (p) => p.name,
  );
  assert.deepEqual(search("建国 定海"), ["王建国", "李建国"]);
  assert.deepEqual(search("普陀"), ["王建华"]);
  assert.equal(search("王").length, 20);
});

test("deviceName names a browser by its browser and system in words", async () => {
  const { deviceName } = await import(join(JS, "devices.js"));
  const android = "Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0 Mobile Safari/537.36";
  const wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44";
  const edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
  assert.equal(deviceName(android), "Chrome · Android");
  assert.equal(deviceName(edge), "Edge · Windows");
  assert.equal(deviceName(wechat), `${i18n.t("devices.wechat")} · iOS`);
  assert.equal(deviceName("curl/8.0"), i18n.t("devices.unknown"));
});

test("messageText says every kind in words, whatever the body holds", async () => {
  // A body may be a raw publish or a stored row from before a field existed: never
  // "undefined", "[object …]" or JSON, and a label for every kind the hub appends.
  const m = await import(join(JS, "messages.js"));
  const kinds = m.kindChoices().map((k) => k.id);
  assert.ok(kinds.length >= 45, `only ${kinds.length} kinds labelled`);
  for (const kind of [...kinds, "bulletin"]) {
    for (const body of [{}, { item: {}, event: { action: "sign", actor: {}, payload: {} } }, { opinion: null }]) {
      const said = m.messageText({ kind, body }, new Map());
      const text = `${said.title}|${said.text}|${m.kindLabel(kind)}`;
      assert.ok(!/undefined|\[object|null|NaN|\{"/.test(text), `${kind}: ${text}`);
    }
  }
  assert.equal(m.kindLabel("bulletin"), "自定义消息（bulletin）");
  assert.equal(m.placeText({ kind: "unit", id: 3, name: "交通局" }), "单位 交通局");
  assert.equal(m.placeText({ kind: "meeting", id: 3, name: null }), "已删除的会议");
  assert.equal(m.senderName({ id: 0, name: "会议系统", role: "system" }), "系统");
});
