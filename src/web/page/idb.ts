/** Saved models in the browser's IndexedDB: one record per name, holding recur's tfjs-format files. */
import type { ModelFiles } from './protocol.js';

const DB = 'recur';
const STORE = 'models';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'name' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB: cannot open the database'));
  });
}

async function tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req.result);
      t.onerror = () => reject(t.error ?? new Error('IndexedDB: the transaction failed'));
    });
  } finally {
    db.close();
  }
}

export interface SavedModel extends ModelFiles {
  savedAt: string;
}

export const saveModelFiles = (m: SavedModel): Promise<IDBValidKey> => tx('readwrite', (s) => s.put(m));
export const loadModelFiles = (name: string): Promise<SavedModel | undefined> =>
  tx('readonly', (s) => s.get(name) as IDBRequest<SavedModel | undefined>);
export const savedModelNames = (): Promise<string[]> =>
  tx('readonly', (s) => s.getAllKeys()).then((keys) => keys.map(String));
