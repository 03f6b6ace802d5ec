// A dedicated worker that prepares evidence files (evidence-media.js prepareFile) away from the page: a
// 12 MP photo takes a few hundred milliseconds to decode and encode, and on the page Chromium defers canvas
// encoding to idle time, which after a tap on "Add photo" can mean a wait of a second per encode.
import { EvidenceError, prepareFile } from './evidence-media.js';

self.onmessage = async ({ data: { id, file, mode, limits } }) => {
  try {
    self.postMessage({ id, prepared: await prepareFile(file, mode, limits) });
  } catch (error) {
    self.postMessage({ id, error: String((error && error.message) || error), known: error instanceof EvidenceError });
  }
};
