/** The user-info of an absolute URL (`scheme://user:password@`); the authority ends at `/`, `?`, `#` or `\`. */
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#\\]*)@/i;

/**
 * The URL as shown back to a caller: a password in its user-info becomes `***` (`http://user:***@host/`).
 * The stored URL keeps it, and requests are still sent with it.
 */
export function maskUrlPassword(url: string): string {
  const match = USER_INFO.exec(url);
  const colon = match ? match[2].indexOf(':') : -1;
  if (!match || colon === -1) return url;
  return `${match[1]}${match[2].slice(0, colon)}:***@${url.slice(match[0].length)}`;
}
