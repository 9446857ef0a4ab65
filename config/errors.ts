// A refused configuration and its problems, apart from the loader so that code which only reports
// them (the CLI, the isolated loader's caller) does not load the YAML parser and the validator.

export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Path of the key, e.g. `devices[0].tags[3].address`. */
  key: string;
  message: string;
  hint?: string;
}

/** A refused configuration. `code` follows the CE_ERR_ registry of the gateway model. */
export class ConfigError extends Error {
  readonly code: 'CE_ERR_CONFIG_READ' | 'CE_ERR_CONFIG_YAML' | 'CE_ERR_CONFIG_INVALID';
  readonly issues: ConfigIssue[];
  constructor(code: ConfigError['code'], issues: ConfigIssue[]) {
    super(formatIssues(issues));
    this.name = 'ConfigError';
    this.code = code;
    this.issues = issues;
  }
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.key ? `${i.key}: ` : ''}${i.message}` +
    (i.hint ? `\n    hint: ${i.hint}` : '')).join('\n');
}

