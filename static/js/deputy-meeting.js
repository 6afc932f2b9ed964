// Placeholder until its endpoints land.
import { fill, notYet } from "./ui.js";

export async function mount() {
  for (const s of document.querySelectorAll("section[role=tabpanel] .card .body"))
    if (!s.childElementCount) fill(s, notYet("…"));
}
