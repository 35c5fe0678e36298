/**
 * A feed cursor: a client's feed position, written as 16 hexadecimal digits. Opaque to clients, but it only grows in
 * commit order and compares as a string in that order too. Position 0 is before the first change.
 */
const CURSOR = /^[0-9a-f]{16}$/;

export const FEED_START = '0000000000000000';

export function encodeCursor(position: number): string {
  return position.toString(16).padStart(16, '0');
}

/** The position a cursor stands for, or undefined when it is not one this feed gave out. */
export function decodeCursor(cursor: string): number | undefined {
  if (!CURSOR.test(cursor)) return undefined;
  const position = parseInt(cursor, 16);
  return Number.isSafeInteger(position) ? position : undefined;
}
