// `npm start`'s goal state: written from the template unless the operator edited it. What was
// last generated is kept beside it (`<goal>.generated`): a file that matches neither that nor
// what the template gives now was edited, and is left alone (delete it to start over).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Writes `text` to goalFile unless the file there was edited; says which ('written' | 'kept' | 'unchanged'). */
export function writeExampleGoal(goalFile, text) {
  const stamp = `${goalFile}.generated`;
  const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : null);
  const current = read(goalFile);
  if (current === text) {
    writeFileSync(stamp, text);
    return 'unchanged';
  }
  if (current !== null && current !== read(stamp)) return 'kept';
  writeFileSync(goalFile, text);
  writeFileSync(stamp, text);
  return 'written';
}
