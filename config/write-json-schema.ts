// Writes config/cityedge.schema.json, the JSON Schema editors use (VS Code's YAML extension:
// `# yaml-language-server: $schema=…`). Keys the loader fills with defaults are not required there.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigSchema } from './schema.ts';

export function editorSchema(): unknown {
  return JSON.parse(JSON.stringify(ConfigSchema, (_key, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const o = value as { required?: string[]; properties?: Record<string, { default?: unknown }> };
      if (o.required && o.properties) {
        const required = o.required.filter((k) => o.properties?.[k]?.default === undefined);
        return { ...o, required };
      }
    }
    return value;
  }));
}

export const SCHEMA_FILE = fileURLToPath(new URL('./cityedge.schema.json', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...(editorSchema() as object) }, null, 2)}\n`);
  console.log(`wrote ${SCHEMA_FILE}`);
}
