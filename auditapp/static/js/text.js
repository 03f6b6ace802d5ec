// Text as the server counts it: in code points, never a lone UTF-16 surrogate (the server refuses one, and a
// JavaScript cut in the middle of an emoji makes one). Also the checks on conversation notes: a UPN is refused
// (the server refuses it too) and a name is warned about. No DOM here: the save worker loads this module.

/** The server's limit (auditapp/services/capture_rules.py) of a field whose limit is not the default. */
export const MAX_TEXT = 5000;
const LIMITS = {
  'conversation.subject': 100, 'conversation.setting': 100, 'policy_check.document_version': 100,
  'policy_check.named_person': 200, 'action.description': 2000, 'action.owner_role': 100, 'answer.na_reason': 2000,
  'conversation.response:': 2000, // every prompt's response
};

export const limitOf = (entity, field) => LIMITS[`${entity}.${field}`]
  || LIMITS[`${entity}.${String(field).replace(/:.*$/, ':')}`] || MAX_TEXT;

/** The text with every lone surrogate replaced by U+FFFD (a pair stays a pair). */
export function wellFormed(text) {
  if (typeof text !== 'string') return text;
  if (typeof text.toWellFormed === 'function') return text.toWellFormed();
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** How many characters the server counts (code points). */
export function codePointLength(text) {
  let n = 0;
  for (const _ of text) n += 1; // eslint-disable-line no-unused-vars
  return n;
}

/** At most `max` code points of `text`: a cut never splits a surrogate pair. */
export function cutText(text, max) {
  if (text.length <= max) return text; // max code points can never take fewer code units than this
  let end = 0;
  let n = 0;
  for (const ch of text) {
    if (n === max) break;
    end += ch.length;
    n += 1;
  }
  return text.slice(0, end);
}

/** A change's field values as they are sent: strings well formed and within the server's limit, at any depth. */
export function cleanFields(entity, fields) {
  const clean = (value, limit) => {
    if (typeof value === 'string') return cutText(wellFormed(value), limit);
    if (Array.isArray(value)) return value.map((v) => clean(v, MAX_TEXT));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [wellFormed(k), clean(v, MAX_TEXT)]));
    }
    return value;
  };
  return Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, clean(value, limitOf(entity, name))]));
}

// ---- what a conversation note must not hold -------------------------------------------------------

// A UPN: a letter, 11 digits, then a digit or a letter (13 characters, auditapp/services/placements.py), on its own
// (the server's check: capture_rules._UPN_IN_TEXT). Here digits split by single spaces count too.
const UPN = /(?:^|[^A-Za-z0-9])[A-Za-z]\d{11}[0-9A-Za-z](?![A-Za-z0-9])/;

export const hasUpn = (text) => typeof text === 'string' && UPN.test(text.replace(/(\d) (?=\d)/g, '$1'));

const TITLE = /\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z]/;
const MY_NAME = /\bmy name(?:'s|’s| is)\b/i;
const CAPITALISED_PAIR = /(?<![A-Za-z’'-])[A-Z][a-z’'-]+(?=\s+[A-Z][a-z’'-]+)/g;

/** Whether a note looks like it holds a name: a title before a word, "my name is", or (unless `pairs` is false, as
 * for a role, where "Designated Safeguarding Lead" is usual) two Capitalised words together that do not start a
 * sentence. A hint for a warning only: it is never used to refuse a note. */
export function looksLikeName(text, { pairs = true } = {}) {
  if (typeof text !== 'string' || !text) return false;
  if (TITLE.test(text) || MY_NAME.test(text)) return true;
  if (!pairs) return false;
  for (const match of text.matchAll(CAPITALISED_PAIR)) {
    const before = text.slice(0, match.index).trimEnd();
    const atStart = !before || /[.!?:;\n]$/.test(before) || /[.!?]["”’)]$/.test(before);
    if (!atStart) return true;
  }
  return false;
}
