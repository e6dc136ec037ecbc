// The filter box: words, all of which a row must match (case-insensitive).
//   word            name, status or message contains it
//   status:Failed   status is (state:, version: likewise; name:, message: contain)
//   is:transitioning / is:orphaned
//   -word, -status:Ready   negated
//   "two words"     quoted, spaces kept
import { isTransitioning } from './model.js';

const EXACT = new Set(['status', 'state', 'version', 'goal']);
const CONTAINS = new Set(['name', 'message', 'msg', 'op']);

function tokens(text) {
  const out = [];
  const re = /(-?)(?:(\w+):)?(?:"([^"]*)"?|(\S+))/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    const value = (m[3] ?? m[4] ?? '').toLowerCase();
    const key = m[2]?.toLowerCase() ?? null;
    if (value === '' && key === null) continue;
    out.push({ negate: m[1] === '-', key, value });
  }
  return out;
}

function fieldOf(row, key) {
  switch (key) {
    case 'status': return row.status;
    case 'state': return row.state;
    case 'version': return row.version ?? '';
    case 'goal': return row.desiredState;
    case 'name': return row.name;
    case 'message': case 'msg': return row.message;
    case 'op': return row.lastOperation ? `${row.lastOperation.name}:${row.lastOperation.result}` : '';
    default: return '';
  }
}

function matchOne(row, t) {
  if (t.key === 'is') {
    if (t.value === 'transitioning') return isTransitioning(row);
    if (t.value === 'orphaned') return row.desiredState === 'orphaned';
    return row.status.toLowerCase() === t.value;
  }
  if (t.key !== null && EXACT.has(t.key)) return fieldOf(row, t.key).toLowerCase() === t.value;
  if (t.key !== null && CONTAINS.has(t.key)) return fieldOf(row, t.key).toLowerCase().includes(t.value);
  // No key (or one we do not know: then the whole word is searched for).
  const v = t.key !== null ? `${t.key}:${t.value}` : t.value;
  return row.name.toLowerCase().includes(v) || row.status.toLowerCase().includes(v) || row.message.toLowerCase().includes(v);
}

/** A predicate for rows, from the filter box's text; null when the text filters nothing. */
export function compileFilter(text) {
  const ts = tokens(text.trim());
  if (ts.length === 0) return null;
  return (row) => ts.every((t) => matchOne(row, t) !== t.negate);
}
