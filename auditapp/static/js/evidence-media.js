// Evidence files on the device, before anything is stored: photos are decoded and re-encoded as JPEG of
// about 2000 px on the long side (which also drops EXIF, the location included), a small thumbnail is
// made for the screen, the SHA-256 is computed here, and the file is checked against the server's limits
// (from the visit pack) so nobody meets a refusal after a long upload.
import { cutText, wellFormed } from './text.js';

export const DEFAULT_MEDIA_TYPES = ['image/jpeg', 'image/png', 'application/pdf'];
export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
const LONG_SIDE = 2000;
const THUMB_SIDE = 240;
const PHOTO_QUALITY = 0.85;
const THUMB_QUALITY = 0.7;
const TYPE_NAMES = { 'image/jpeg': 'JPG', 'image/png': 'PNG', 'application/pdf': 'PDF' };

/** A problem with the chosen file, worded for the auditor (GOV.UK error message style). */
export class EvidenceError extends Error {}

/** The evidence limits of a visit pack, with defaults for a pack that predates them. */
export function limitsOf(pack) {
  const limits = (pack && pack.limits) || {};
  const types = Array.isArray(limits.evidence_media_types) && limits.evidence_media_types.length
    ? limits.evidence_media_types : DEFAULT_MEDIA_TYPES;
  const max = Number(limits.evidence_max_bytes) > 0 ? Number(limits.evidence_max_bytes) : DEFAULT_MAX_BYTES;
  return { types, max };
}

export function formatSize(n) {
  if (n < 1024 * 1024) return `${Math.max(1, Math.round(n / 1024))} KB`;
  return `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 1 : 0).replace(/\.0$/, '')} MB`;
}

function typeList(types) {
  const names = [...new Set(types.map((t) => TYPE_NAMES[t] || t))];
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0];
}

/** The type the bytes say, not the name or the browser's guess (the server checks the same way). */
async function sniff(blob) {
  const b = new Uint8Array(await blob.slice(0, 8).arrayBuffer());
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0x25 && b[1] === 0x50 && b[2] === 0x44 && b[3] === 0x46 && b[4] === 0x2d) return 'application/pdf';
  return null;
}

async function decode(file) {
  try {
    return await createImageBitmap(file, { imageOrientation: 'from-image' }); // applies the EXIF rotation
  } catch (_) {
    throw new EvidenceError('The selected file could not be opened as a photo. Take the photo again, or choose a JPG or PNG');
  }
}

/** Width and height scaled to fit `side` on the long side (never enlarged). */
function fit(width, height, side) {
  const k = Math.min(1, side / Math.max(width, height));
  return [Math.max(1, Math.round(width * k)), Math.max(1, Math.round(height * k))];
}

/** `source` drawn at width x height on a new canvas, white behind transparent pixels. */
function draw(source, width, height) {
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height)
    : Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d');
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, width, height);
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, width, height);
  return canvas;
}

async function jpegOf(canvas, quality) {
  const blob = canvas.convertToBlob ? await canvas.convertToBlob({ type: 'image/jpeg', quality })
    : await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
  if (!blob) throw new EvidenceError('The photo could not be stored on this device. Try again');
  return blob;
}

/**
 * The photo at about 2000 px as JPEG, and a thumbnail made from it. The bitmap is resized by the browser
 * first (measured in headless Chromium on a 12 MP photo: ~250 ms in all, against ~500 ms for drawing the
 * full bitmap onto the canvas with high-quality smoothing), then drawn once.
 */
async function downscale(bitmap) {
  const [width, height] = fit(bitmap.width, bitmap.height, LONG_SIDE);
  let source = bitmap;
  if (width < bitmap.width) {
    try {
      source = await createImageBitmap(bitmap, { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' });
    } catch (_) { /* no resize options in this browser: the canvas scales it */ }
  }
  const canvas = draw(source, width, height);
  if (source !== bitmap) source.close();
  return { canvas, width, height, blob: await jpegOf(canvas, PHOTO_QUALITY) };
}

const thumbnailOf = (source, width, height) => jpegOf(draw(source, ...fit(width, height, THUMB_SIDE)), THUMB_QUALITY);

export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A display name: no folders, no control characters, the extension of what is stored. */
function displayName(name, mediaType) {
  const base = String(name || '').split(/[\\/]/).pop().replace(/[\u0000-\u001f\u007f]/g, '').trim();
  const stem = cutText(wellFormed(base.replace(/\.[A-Za-z0-9]{1,5}$/, '') || (mediaType === 'application/pdf' ? 'document' : 'photo')), 80);
  const ext = { 'image/jpeg': 'jpg', 'image/png': 'png', 'application/pdf': 'pdf' }[mediaType] || 'bin';
  return `${stem}.${ext}`;
}

/**
 * Turn a chosen file into what is stored and registered: {blob, media_type, size_bytes, sha256, filename,
 * thumb, width, height, original_bytes, ms}. `mode` is 'photo' (always downscaled) or 'document' (a PDF,
 * or an image kept as it is when the server accepts it as it is).
 * :raises EvidenceError: for an empty, unreadable, wrong-type or too-large file.
 */
export async function prepareFile(file, mode, limits) {
  const started = performance.now();
  if (!file || !file.size) throw new EvidenceError('The selected file is empty');
  const sniffed = await sniff(file);
  const looksLikeImage = sniffed ? sniffed.startsWith('image/') : (file.type || '').startsWith('image/');
  let blob = file;
  let mediaType = sniffed;
  let thumb = null;
  let width = null;
  let height = null;
  if (mode === 'photo' && sniffed === 'application/pdf') throw new EvidenceError('The selected file must be a photo. Use “Add document” for a PDF');
  const reencode = mode === 'photo' || (looksLikeImage && (!limits.types.includes(sniffed) || file.size > limits.max));
  const steps = {};
  const step = (name, since) => { steps[name] = Math.round(performance.now() - since); return performance.now(); };
  let at = performance.now();
  if (reencode || looksLikeImage) {
    const bitmap = await decode(file);
    at = step('decode', at);
    try {
      let source = bitmap;
      if (reencode) {
        let canvas;
        ({ canvas, blob, width, height } = await downscale(bitmap));
        source = canvas;
        mediaType = 'image/jpeg';
        at = step('downscale', at);
      } else {
        ({ width, height } = bitmap);
        blob = new Blob([file], { type: mediaType });
      }
      thumb = await thumbnailOf(source, width, height);
      at = step('thumbnail', at);
    } finally {
      bitmap.close();
    }
  } else if (sniffed) {
    blob = new Blob([file], { type: sniffed });
  }
  if (!mediaType || !limits.types.includes(mediaType)) throw new EvidenceError(`The selected file must be a ${typeList(limits.types)}`);
  if (blob.size > limits.max) throw new EvidenceError(`The selected file must be smaller than ${formatSize(limits.max)}`);
  const sha256 = await sha256Hex(blob);
  step('sha256', at);
  return { blob, media_type: mediaType, size_bytes: blob.size, sha256, filename: displayName(file.name, mediaType), thumb,
           width, height, original_bytes: file.size, ms: performance.now() - started, steps };
}

// ---- preparing in a worker ------------------------------------------------------------------------

let worker = null;
let sequence = 0;
const waiting = new Map(); // message id -> {resolve, reject, args}

function onMainThread(entry) {
  prepareFile(...entry.args).then(entry.resolve, entry.reject);
}

function startWorker() {
  const started = new Worker(new URL('./evidence-worker.js', import.meta.url), { type: 'module' });
  started.onmessage = ({ data }) => {
    const entry = waiting.get(data.id);
    waiting.delete(data.id);
    if (!entry) return;
    if (!data.error) entry.resolve(data.prepared);
    else if (data.known) entry.reject(new EvidenceError(data.error));
    else onMainThread(entry); // e.g. a browser whose workers cannot draw: the page can
  };
  started.onerror = (event) => { // the worker could not start: everything waiting is prepared on the page
    event.preventDefault();
    started.terminate();
    if (worker === started) worker = null;
    for (const [id, entry] of waiting) { waiting.delete(id); onMainThread(entry); }
  };
  return started;
}

/** prepareFile in a worker where the browser has one that can draw, else on the page. */
export function prepare(file, mode, limits) {
  if (typeof Worker === 'undefined' || typeof OffscreenCanvas === 'undefined') return prepareFile(file, mode, limits);
  return new Promise((resolve, reject) => {
    const id = (sequence += 1);
    waiting.set(id, { resolve, reject, args: [file, mode, limits] });
    try {
      worker = worker || startWorker();
      worker.postMessage({ id, file, mode, limits });
    } catch (_) {
      waiting.delete(id);
      onMainThread({ resolve, reject, args: [file, mode, limits] });
    }
  });
}
