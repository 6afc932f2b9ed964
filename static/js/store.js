// What a page keeps on this device in IndexedDB ("hub"): copies of the API's answers the
// page read last ("copies", keyed `<user>:<path>`), and the outbox ("outbox", in the order
// the writes were made). Everything here resolves to undefined rather than failing when
// the browser has no IndexedDB (a private window that refuses it): the page then works
// online only.

const NAME = "hub";
let opening = null;

function open() {
  if (!opening)
    opening = new Promise((resolve, reject) => {
      const r = indexedDB.open(NAME, 1);
      r.onupgradeneeded = () => {
        r.result.createObjectStore("copies");
        r.result.createObjectStore("outbox", { keyPath: "n", autoIncrement: true });
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  return opening;
}

async function run(store, mode, fn) {
  try {
    const db = await open();
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const req = fn(tx.objectStore(store));
      tx.oncomplete = () => resolve(req?.result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  } catch (e) {
    console.error(e);
    return undefined;
  }
}

export const idb = {
  get: (store, key) => run(store, "readonly", (s) => s.get(key)),
  put: (store, value, key) => run(store, "readwrite", (s) => (key === undefined ? s.put(value) : s.put(value, key))),
  del: (store, key) => run(store, "readwrite", (s) => s.delete(key)),
  /** Delete `key` and put `value` (its own key) in one transaction: both or neither. */
  replace: (store, key, value) =>
    run(store, "readwrite", (s) => {
      s.delete(key);
      return s.put(value);
    }),
  all: async (store) => (await run(store, "readonly", (s) => s.getAll())) || [],
  /** Delete every key of `store` that starts with `prefix` (a user's copies). */
  drop: (store, prefix) => run(store, "readwrite", (s) => s.delete(IDBKeyRange.bound(prefix, `${prefix}\uffff`))),
};
