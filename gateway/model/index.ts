// The model: what drivers, the journal, alarms and uplinks share. Config types come through here
// so that the layers above config/ import one place.
export * from './sample.ts';
export * from './errors.ts';
export * from './clock.ts';
export * from './backoff.ts';
export * from './driver.ts';
export * from './logger.ts';
export type * from '../../config/schema.ts';
export { Severities, CommandVerbs } from '../../config/vocabulary.ts';
export { parseModbusAddress, registerSpan, isBitTable, type ModbusAddress } from '../../config/modbus-address.ts';
export { durationMs, byteSize } from '../../config/units.ts';
export * from './rate.ts';
export * from './command.ts';
export { parseExpr, exprRefs, evaluateCondition, checkExpr, type Expr } from '../../config/expr.ts';
export { shortestFloat32 } from './float32.ts';
export { checkWrite, type WritableTag } from './write-check.ts';
export * from './messages.ts';
export * from './snapshot.ts';
