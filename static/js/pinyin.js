// Pinyin initials of Chinese text, so a picker finds 王建国 by typing `wjg`.
//
// No table is shipped. GB2312 orders its 3,755 level-1 characters (the most common ones)
// by pinyin, so the code at which each initial letter starts is enough: the browser's own
// GB18030 decoder turns those codes into the characters, and the 23 start codes below
// give each its letter. Any other Chinese character (鑫, 琪, 珺 … are not in level 1) is
// placed among the level-1 ones by the browser's pinyin collation (Intl.Collator with
// `co-pinyin`) and takes the letter of the one before it. A few characters have two
// common readings (单 Dan or Shan, 解 Jie or Xie …): both letters are offered for them.

const LEVEL1 = [
  [0xb0a1, "a"], [0xb0c5, "b"], [0xb2c1, "c"], [0xb4ee, "d"], [0xb6ea, "e"], [0xb7a2, "f"],
  [0xb8c1, "g"], [0xb9fe, "h"], [0xbbf7, "j"], [0xbfa6, "k"], [0xc0ac, "l"], [0xc2e8, "m"],
  [0xc4c3, "n"], [0xc5b6, "o"], [0xc5be, "p"], [0xc6da, "q"], [0xc8bb, "r"], [0xc8f6, "s"],
  [0xcbfa, "t"], [0xcdda, "w"], [0xcef4, "x"], [0xd1b9, "y"], [0xd4d1, "z"],
]; // prettier-ignore
const LAST = 0xd7f9; // 座, the last level-1 character

// Characters with two common readings (as surnames, in given names): both initials, so
// 单 is found by `d` and by `s`. The GB2312 order gives only one of them.
const READINGS = {
  单: "ds", 解: "jx", 仇: "cq", 区: "qo", 查: "cz", 覃: "tq", 翟: "dz", 尉: "wy", 乐: "ly",
  种: "zc", 秘: "mb", 召: "zs", 长: "cz", 重: "zc", 曾: "zc", 行: "xh", 朝: "cz", 传: "cz",
  藏: "cz", 参: "cs", 厦: "sx", 贾: "jg", 句: "jg",
}; // prettier-ignore

let letters = null; // level-1 character -> initial
let sorted = null; // level-1 characters in pinyin collation order
let collator = null;

function level1() {
  if (letters) return letters;
  letters = new Map();
  let decoder;
  try {
    decoder = new TextDecoder("gb18030");
  } catch {
    return letters; // no GB18030 decoder: Latin letters and digits still match
  }
  let k = 0;
  for (let code = LEVEL1[0][0]; code <= LAST; code++) {
    const lo = code & 0xff;
    if (lo < 0xa1 || lo > 0xfe) continue;
    while (k + 1 < LEVEL1.length && code >= LEVEL1[k + 1][0]) k++;
    letters.set(decoder.decode(new Uint8Array([code >> 8, lo])), LEVEL1[k][1]);
  }
  return letters;
}

/** The initial of a Chinese character outside level 1, by pinyin collation; or "". */
function byCollation(ch) {
  if (!collator) {
    try {
      collator = new Intl.Collator("zh-CN-u-co-pinyin");
    } catch {
      return "";
    }
    sorted = [...level1().keys()].sort(collator.compare);
  }
  let lo = 0;
  let hi = sorted.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (collator.compare(sorted[mid], ch) <= 0) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return at < 0 ? "" : letters.get(sorted[at]);
}

const HAN = /\p{Script=Han}/u;
const cache = new Map();

/** The pinyin initial of one character ("" for none), lower case; Latin letters and
 * digits stand for themselves. */
export function initial(ch) {
  if (/[a-z0-9]/i.test(ch)) return ch.toLowerCase();
  if (!HAN.test(ch)) return "";
  let got = cache.get(ch);
  if (got === undefined) {
    got = level1().get(ch) || byCollation(ch) || "";
    cache.set(ch, got);
  }
  return got;
}

/**
 * The pinyin initials of `text`, one string per run of characters, each with its
 * variants where a character has two readings: "王建国 定海区代表团" → "wjg dhqdbt".
 * Variants are capped so a long text stays short.
 */
export function initials(text) {
  const out = [];
  for (const word of String(text).split(/[\s·、，,]+/)) {
    let forms = [""];
    for (const ch of word) {
      const a = initial(ch);
      if (!a) continue;
      const all = new Set([a, ...(READINGS[ch] || "")]);
      forms = forms.length * all.size > 4 ? forms.map((f) => f + a) : forms.flatMap((f) => [...all].map((x) => f + x));
    }
    out.push(...forms.filter(Boolean));
  }
  return out.join(" ");
}
