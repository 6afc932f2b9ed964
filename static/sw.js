// The app shell's service worker (scope /static/): the pages and their files served from
// this device, so a page opens without the network, and at once on a slow one.
//
// The hub writes the two lines below when it starts (hub/assets.py): every page by its
// plain URL, every other file by its content-versioned URL, and a version naming them
// all. A deploy changes this file; the browser installs it, it takes over at once, and the
// previous copy is dropped. Only GETs under /static/ are answered here; the API and the
// live connection always go to the network.

const VERSION = "dev";
const PRECACHE = [];
const CACHE = `hub-shell-${VERSION}`;

self.addEventListener("install", (ev) => {
  ev.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(PRECACHE))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("hub-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/static/")) return;
  ev.respondWith(fromShell(ev.request, url));
});

async function fromShell(request, url) {
  // A page is kept by its plain URL (a query such as ?reason= only tells the page why).
  let key = url.pathname.endsWith("/") ? `${url.pathname}index.html` : url.pathname;
  if (!key.endsWith(".html")) key += url.search;
  const hit = await (await caches.open(CACHE)).match(key);
  return hit || fetch(request);
}
