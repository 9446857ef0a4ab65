// A small sewage treatment plant (污水处理厂) with its inlet pump station, served over OPC UA.
export { startOpcuaPlant, type OpcuaPlant, type OpcuaPlantOptions, type SecurityModeName, type SecurityPolicyName } from './server.ts';
export { SewagePlantPhysics, PLANT, type PhysicsOptions, type PumpNo, type BlowerNo, type SensorFault } from './physics.ts';
export { PLANT_SIGNALS, nodeIdOf, bulkNodeIdOf, signalDef, type SignalDef, type SignalName, type SignalValues, type WritableSignalName } from './signals.ts';
export { MIN_SAMPLING_MS } from './address-space.ts';
