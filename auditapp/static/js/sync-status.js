// The sync status the capture screen shows: one listener list, one snapshot (outbox counts, phase, last
// synced, storage used). `channel` is the same pattern for any other status (evidence uploads).
import { req, storageUsed, tx } from './store.js';

/** A status snapshot with listeners: `on` calls a listener now and on every change; `emit` patches it. */
export function channel(state) {
  const listeners = new Set();
  return {
    state,
    on(listener) {
      listeners.add(listener);
      listener(state);
      return () => listeners.delete(listener);
    },
    emit(patch) {
      Object.assign(state, { changed: [] }, patch);
      for (const listener of listeners) listener(state);
    },
  };
}

// signIn: the last sync was refused because the session ended (the screen links to the sign-in page).
const sync = channel({ phase: 'idle', pending: 0, attention: 0, lastSynced: null, message: '', signIn: false, usage: null, changed: [] });
export const status = sync.state;
export const onStatus = sync.on;
export const setStatus = sync.emit;

let usageAt = 0;

export async function refreshCounts(patch = {}) {
  const [pending, attention, lastSynced] = await tx(['outbox', 'attention', 'meta'], 'readonly', (s) => Promise.all(
    [req(s.outbox.count()), req(s.attention.count()), req(s.meta.get('last_synced'))]));
  setStatus({ pending, attention, lastSynced: lastSynced || null, ...patch });
  // The storage estimate is costly for the browser: at most every 10 s.
  if (Date.now() - usageAt > 10000) {
    usageAt = Date.now();
    storageUsed().then((usage) => { if (usage !== status.usage) setStatus({ usage }); });
  }
  return status;
}

let countsSoon = null;

/** Refresh the counts once a burst of saves is over (keeps the database free for the next save). */
export function refreshCountsSoon(patch = {}, delay = 250) {
  if (countsSoon) clearTimeout(countsSoon);
  countsSoon = setTimeout(() => { countsSoon = null; refreshCounts(patch); }, delay);
}
