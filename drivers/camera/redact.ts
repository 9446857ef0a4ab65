// Camera URLs carry the camera's password (rtsp://admin:secret@192.168.1.64/…): nothing the gateway
// logs or reports may show it, and ffmpeg repeats the URL in its own error messages.

/**
 * `scheme://user:password@` anywhere in a text. The user part runs to the *last* `@` before the
 * path, as ffmpeg reads it: technicians type passwords with a raw `@` in them (`p@ss`).
 */
const CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s/]*)@/gi;

/** The text with the password of every URL in it replaced by `***` (user names are kept). */
export function redactText(text: string): string {
  return text.replace(CREDENTIALS, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

/** `rtsp://user:pass@host/…` → `rtsp://user:***@host/…`; a URL without a password is unchanged. */
export function redactUrl(url: string): string {
  return redactText(url);
}

/**
 * A redactor for one URL's messages: besides URLs, the literal password (raw and percent-decoded)
 * is masked wherever it shows up, for tools that print it outside a URL.
 */
export function redactorFor(url: string): (text: string) => string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^\s/]*)@/i.exec(url);
  const userinfo = m?.[1] ?? '';
  const colon = userinfo.indexOf(':');
  const raw = colon < 0 ? '' : userinfo.slice(colon + 1);
  let decoded = raw;
  try { decoded = decodeURIComponent(raw); } catch { /* not percent-encoded */ }
  // Very short passwords are not masked as free text: "***" in place of every "1" helps nobody.
  const secrets = [...new Set([raw, decoded])].filter((s) => s.length >= 4);
  return (text: string): string => {
    let out = redactText(text);
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
}
