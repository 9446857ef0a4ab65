// The checks every write passes before any driver touches a device, whichever protocol: the tag
// must be marked writable, and the value within its min / max or among its allowed values. The
// device may still refuse (its own range, local mode); that is the driver's answer to give.
import { CodedError } from './errors.ts';
import type { Value } from './sample.ts';

export interface WritableTag { writable?: boolean | undefined; min?: number | undefined; max?: number | undefined; allowed?: readonly Value[] | undefined }

export function checkWrite(path: string, tag: WritableTag | undefined, value: Value): void {
  if (!tag) throw new CodedError('CE_ERR_WRITE_FORBIDDEN', `no tag ${path}`);
  if (!tag.writable) throw new CodedError('CE_ERR_WRITE_FORBIDDEN', `${path} is not marked writable`);
  if (tag.allowed && !tag.allowed.includes(value)) {
    throw new CodedError('CE_ERR_WRITE_RANGE', `${path}: ${JSON.stringify(value)} is not one of ${tag.allowed.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  if (typeof value === 'number' && ((tag.min !== undefined && value < tag.min) || (tag.max !== undefined && value > tag.max))) {
    throw new CodedError('CE_ERR_WRITE_RANGE', `${path}: ${value} is outside ${tag.min ?? '−∞'}…${tag.max ?? '∞'}`);
  }
}
