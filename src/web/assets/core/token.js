// The host token: where the page finds it and where it keeps it. docs/api.md
// "Authentication": `tshv serve` prints a URL with `#token=...`; the page keeps the token in
// sessionStorage (per tab, gone when the tab closes) and never puts it in the address bar.

export const TOKEN_KEY = 'tshv.token';

/**
 * Splits the token out of a URL fragment, keeping the other parameters.
 * '#token=ab&vm=web-1' → { token: 'ab', hash: '#vm=web-1' }.
 * @param {string} hash location.hash, with or without the leading '#'
 * @returns {{ token: string | null, hash: string }}
 */
export function takeTokenFromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  params.delete('token');
  const rest = params.toString();
  return { token: token && token.trim() ? token.trim() : null, hash: rest ? `#${rest}` : '' };
}

/**
 * Reads one parameter of a fragment such as '#vm=web-1'.
 * @param {string} hash
 * @param {string} name
 * @returns {string | null}
 */
export function hashParam(hash, name) {
  return new URLSearchParams(hash.replace(/^#/, '')).get(name);
}
