// Messages pushed to the box (sensors, a LoRaWAN network server): where drivers that do not poll
// get their input. The composition root hands each such driver a source: the box's own broker, or
// a network server's broker the box subscribes to.

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface MessageSource {
  /** Delivers every message on topics matching the MQTT filter; returns the unsubscribe. */
  subscribe(filter: string, handler: MessageHandler): () => void;
}

/** MQTT topic filter matching (MQTT 3.1.1 §4.7): `+` one level, `#` the rest, `$` topics only explicitly. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && !filter.startsWith('$')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether every topic `inner` can match is also matched by `outer` (for subscribe ACLs). */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  for (let i = 0; i < o.length; i++) {
    if (o[i] === '#') return true;
    if (i >= n.length) return false;
    if (n[i] === '#') return false;
    if (o[i] === '+') continue;
    if (n[i] === '+' || o[i] !== n[i]) return false;
  }
  return o.length === n.length;
}
