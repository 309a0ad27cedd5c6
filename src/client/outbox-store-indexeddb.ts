import { DurableOutboxStore } from './durable-outbox.js';
import type { OutboxSnapshot } from './outbox-store.js';

/**
 * A durable outbox in the browser's IndexedDB (database `name`, object store `outbox`, one
 * record): unanswered publishes and requests survive a page reload. Every operation opens the
 * database, runs one transaction and closes it again (saves are few: the client merges those
 * asked for while one runs), so no connection is held open to block another tab's upgrade.
 * One client per store, and nothing enforces it yet (Web Locks would): two clients on one name
 * (two tabs) both load the record and restore its entries; the later resume of the stored
 * session closes the other's connection (4001), entries never sent go out from both (twice), and
 * each save replaces the other's entries. A page open in several tabs gives each tab its own name
 * (one kept in `sessionStorage`, say). Import it only where it is used: an app without it does
 * not bundle it.
 *
 * @example
 * const client = new LifelineClient(url, { outbox: new IndexedDbOutboxStore('chat-outbox') });
 * client.addEventListener('outbox', (e) => console.log('made before the reload:', e.entry, e.error ?? e.value));
 */
export class IndexedDbOutboxStore extends DurableOutboxStore {
  constructor(readonly name: string) {
    super();
  }

  load(): Promise<OutboxSnapshot | undefined> {
    return this.#run('readonly', (store) => store.get(0));
  }

  save(snapshot: OutboxSnapshot): Promise<void> {
    return this.#run('readwrite', (store) => store.put(snapshot, 0));
  }

  /** One transaction; resolves with the request's result once the transaction has committed. */
  #run<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest): Promise<T> {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(this.name);
      open.onupgradeneeded = () => open.result.createObjectStore('outbox');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        try {
          const transaction = db.transaction('outbox', mode);
          const request = work(transaction.objectStore('outbox'));
          transaction.oncomplete = () => resolve(request.result as T);
          transaction.onabort = () => reject(transaction.error); // a failed request aborts its transaction
        } catch (error) {
          reject(error); // a database of that name without our object store, say: never hang the client
        } finally {
          db.close(); // takes effect once the transaction is done
        }
      };
    });
  }
}
