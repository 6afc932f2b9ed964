// One search-as-you-type picker for every "choose one of many" on the pages: merge
// targets, deputies, units, people. A text box with a short list of matches under it
// (a combobox with a listbox): type a few characters, pick with the mouse or with
// ↑ ↓ Enter, Escape closes. However many there are to choose from, the page holds only
// the matches it shows (at most `max`), never a copy of the whole list.

import { t } from "./i18n.js";
import { initials } from "./pinyin.js";
import { chip, el, fill } from "./ui.js";

const DEBOUNCE = 200; // ms after the last keystroke before searching
let counter = 0;

/**
 * @param {{search: (q: string) => Promise<Array<{id: number, label: string, meta?: string}>>
 *            | Array<{id: number, label: string, meta?: string}>,
 *          onPick: (choice: {id: number, label: string}) => void,
 *          label: string, placeholder?: string, id?: string, max?: number,
 *          empty?: boolean}} opts
 *   search: the matches for what was typed (a function of the text; may be async);
 *   label: the accessible name of the text box; empty: search on focus with nothing typed.
 * @returns {{el: HTMLElement, input: HTMLInputElement, clear: () => void}}
 */
export function picker({ search, onPick, label, placeholder = "", id, max = 8, empty = false }) {
  const n = ++counter;
  const listId = `picker-${n}`;
  const input = el("input", {
    type: "search",
    id: id || `picker-input-${n}`,
    class: "picker-input",
    role: "combobox",
    autocomplete: "off",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": listId,
    "aria-label": label,
    placeholder,
  });
  const list = el("ul", { class: "picker-list", id: listId, role: "listbox", hidden: true });
  const box = el("div", { class: "picker" }, input, list);
  let shown = [];
  let active = -1;
  let timer = null;
  let asked = 0; // answers to an earlier question than the last are dropped

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const mark = (i) => {
    active = i;
    [...list.children].forEach((li, k) => li.setAttribute("aria-selected", k === i ? "true" : "false"));
    if (i >= 0) input.setAttribute("aria-activedescendant", `${listId}-${i}`);
  };
  const pick = (i) => {
    const c = shown[i];
    if (!c) return;
    close();
    onPick(c);
  };
  const draw = (found) => {
    shown = found.slice(0, max);
    fill(
      list,
      shown.length
        ? shown.map((c, i) =>
            el(
              "li",
              { role: "option", id: `${listId}-${i}`, "data-id": c.id, "aria-selected": "false", onmousedown: (ev) => ev.preventDefault(), onclick: () => pick(i) },
              el("span", { class: "picker-label" }, c.label),
              c.meta ? el("span", { class: "meta" }, ` ${c.meta}`) : null,
            ),
          )
        : el("li", { class: "meta", role: "presentation" }, t("picker.none")),
    );
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    mark(shown.length ? 0 : -1);
  };
  const run = async () => {
    const q = input.value.trim();
    if (!q && !empty) return close();
    const mine = ++asked;
    let found;
    try {
      found = await search(q);
    } catch (e) {
      console.error(e);
      return;
    }
    if (mine === asked && document.activeElement === input) draw(found);
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE);
  });
  input.addEventListener("focus", () => {
    if (empty || input.value.trim()) run();
  });
  input.addEventListener("blur", close);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" && shown.length) {
      ev.preventDefault();
      if (list.hidden) return run();
      mark((active + 1) % shown.length);
    } else if (ev.key === "ArrowUp" && shown.length) {
      ev.preventDefault();
      mark((active - 1 + shown.length) % shown.length);
    } else if (ev.key === "Enter") {
      if (!list.hidden && active >= 0) {
        ev.preventDefault();
        pick(active);
      }
    } else if (ev.key === "Escape") {
      close();
    }
  });
  return {
    el: box,
    input,
    clear() {
      input.value = "";
      close();
    },
  };
}

const keys = new Map(); // text -> its pinyin initials (js/pinyin.js)

/** Does `text` contain the typed word, or do its pinyin initials (a Latin word only)? */
export function matches(text, word) {
  if (text.toLowerCase().includes(word)) return true;
  if (!/^[a-z]+$/.test(word)) return false;
  let k = keys.get(text);
  if (k === undefined) {
    k = initials(text);
    keys.set(text, k);
  }
  return k.includes(word);
}

/**
 * A `search` over a list held in memory: the entries whose text contains every word
 * typed (or whose pinyin initials do: `wjg` finds 王建国), in the list's order.
 * `text(x)` is what is searched, `choice(x)` what is shown.
 */
export function searchIn(items, text, choice) {
  return (q) => {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    const out = [];
    for (const x of items()) {
      const s = text(x);
      if (words.every((w) => matches(s, w))) out.push(choice(x));
      if (out.length >= 20) break;
    }
    return out;
  };
}

/**
 * A picker that keeps what was chosen: one (`multiple` false: choosing again replaces it)
 * or several, each shown under the text box as a chip with its × to remove it. The form
 * holds the picker and the ones chosen, never an entry for each of `items()`; what is
 * already chosen is not offered again. Searches as `searchIn` does (words, pinyin
 * initials) over `text(x)`; `choice(x)` is what a match and a chip show.
 * @param {{items: () => Iterable<any>, key: (x: any) => number, text: (x: any) => string,
 *          choice: (x: any) => {id: number, label: string, meta?: string},
 *          label: string, placeholder?: string, id?: string, multiple?: boolean,
 *          empty?: boolean, onChange?: () => void}} opts
 * @returns {{el: HTMLElement, input: HTMLInputElement, ids: () => number[], clear: () => void}}
 */
export function chooser({ items, key, text, choice, label, placeholder = "", id, multiple = false, empty = false, onChange = () => {} }) {
  const chosen = new Map(); // id -> {id, label, meta}
  const list = el("ul", { class: "chosen" });
  const draw = () =>
    fill(
      list,
      [...chosen.values()].map((c) =>
        el(
          "li",
          { "data-id": c.id },
          chip(c.meta ? `${c.label} · ${c.meta}` : c.label, "info"),
          el("button", { type: "button", class: "link remove", "aria-label": `${t("common.remove")} ${c.label}`, onclick: () => remove(c.id) }, "×"),
        ),
      ),
    );
  const remove = (cid) => {
    chosen.delete(cid);
    draw();
    onChange();
  };
  function* open() {
    for (const x of items()) if (!chosen.has(key(x))) yield x;
  }
  const p = picker({
    id,
    label,
    placeholder,
    empty,
    search: searchIn(open, text, choice),
    onPick: (c) => {
      if (!multiple) chosen.clear();
      chosen.set(c.id, c);
      p.clear();
      draw();
      onChange();
    },
  });
  return {
    el: el("div", { class: "field chooser" }, el("label", { for: p.input.id }, label), p.el, list),
    input: p.input,
    ids: () => [...chosen.keys()],
    clear() {
      chosen.clear();
      p.clear();
      draw();
    },
  };
}
