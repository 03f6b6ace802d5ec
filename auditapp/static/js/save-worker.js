// The capture screen's save worker: writes each change it is handed (the record and its outbox mutation, in one
// IndexedDB transaction, outbox.js saveFields) and answers once the transaction has committed. Why a worker:
// capture-context.js, "the save worker". store.js, outbox.js and sync-status.js load here too, so none may touch the DOM
// when it loads.
import { useDatabase } from './store.js';
import { saveFields } from './outbox.js';

self.addEventListener('message', async ({ data: { id, user, target, change } }) => {
  try {
    useDatabase(user);
    self.postMessage({ id, record: await saveFields(target, change) });
  } catch (error) {
    self.postMessage({ id, error: String((error && error.message) || error) });
  }
});

self.postMessage({ ready: true });
