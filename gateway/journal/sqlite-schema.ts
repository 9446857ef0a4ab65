// The journal file's tables. `lane` 0 is the priority lane (events), 1 telemetry. Ids are given by
// the journal, not by SQLite: `meta.last_id` keeps them increasing even after every record is gone,
// so a cursor's saved position never points past records that come later.
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  id INTEGER PRIMARY KEY, lane INTEGER NOT NULL, channel TEXT NOT NULL, device TEXT NOT NULL,
  seq INTEGER NOT NULL, ts INTEGER NOT NULL, count INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_lane ON records (lane, id);
CREATE TABLE IF NOT EXISTS seqs (key TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (upstream TEXT PRIMARY KEY, low INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS acks (upstream TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (upstream, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
`;
