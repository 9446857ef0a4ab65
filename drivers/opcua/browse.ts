// `cityedge browse opc.tcp://…`: walks a server's address space from Objects for a technician, and
// writes the configuration lines of the variables found (or of those chosen with --select), ready
// to paste under a device's tags.
import type { Value } from '../../gateway/model/index.ts';
import { OpcuaLink, type LinkOptions } from './link.ts';
import { qualityOf, valueOf, type DataValueLike } from './values.ts';

export interface BrowseOptions extends LinkOptions {
  /** Where to start: a NodeId; default the Objects folder. */
  root?: string;
  depth: number;
  /** Only variables whose browse path matches get a config line. */
  select?: RegExp;
  /** Config lines name tags by browse path instead of NodeId. */
  byPath?: boolean;
}

export interface BrowsedVariable { path: string; nodeId: string; dataType: string; value: Value | null; quality: string; writable: boolean }

const BUILT_IN = ['Null', 'Boolean', 'SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64', 'Float', 'Double', 'String', 'DateTime', 'Guid', 'ByteString', 'XmlElement', 'NodeId', 'ExpandedNodeId', 'StatusCode', 'QualifiedName', 'LocalizedText', 'ExtensionObject', 'DataValue', 'Variant', 'DiagnosticInfo'];
const MAX_NODES = 20_000;
const HAS_PROPERTY = 'ns=0;i=46';

export async function browseOpcua(o: BrowseOptions): Promise<{ tree: string[]; variables: BrowsedVariable[]; config: string[] }> {
  const link = await OpcuaLink.open(o, () => {});
  try {
    const { session, lib } = link;
    const tree: string[] = [];
    const found: { path: string; nodeId: string; line: number; depth: number; name: string }[] = [];
    let visited = 0;
    const walk = async (nodeId: string, path: string, depth: number): Promise<void> => {
      if (depth > o.depth || visited > MAX_NODES) return;
      let result = await session.browse({
        nodeId, browseDirection: lib.BrowseDirection.Forward, referenceTypeId: 'HierarchicalReferences', includeSubtypes: true,
        nodeClassMask: lib.NodeClass.Object | lib.NodeClass.Variable, resultMask: 63,
      });
      const refs = [...(result.references ?? [])];
      while (result.continuationPoint && result.continuationPoint.length > 0) {
        const next = (await session.browseNext([result.continuationPoint], false))[0];
        if (!next) break;
        result = next;
        refs.push(...(result.references ?? []));
      }
      for (const r of refs) {
        const id = r.nodeId.toString();
        // The standard nodes of namespace 0 under Objects (Server diagnostics, Locations, Aliases)
        // are hundreds of nodes no one polls: a plant's own variables live in other namespaces.
        if (depth === 0 && !o.root && r.nodeId.namespace === 0) continue;
        // Properties (EURange, EngineeringUnits of an analog item) describe a variable; no one polls them.
        if (r.referenceTypeId.toString() === HAS_PROPERTY) continue;
        visited++;
        const step = `${r.browseName.namespaceIndex}:${r.browseName.name}`;
        const childPath = `${path}/${step}`;
        const indent = '  '.repeat(depth);
        if (r.nodeClass === lib.NodeClass.Variable) {
          found.push({ path: childPath, nodeId: id, line: tree.length, depth, name: r.browseName.name ?? '' });
          tree.push(`${indent}${r.browseName.name}`);
        } else {
          tree.push(`${indent}${r.browseName.name}/  (${id})`);
        }
        await walk(id, childPath, depth + 1);
      }
    };
    await walk(o.root ?? 'ObjectsFolder', o.root ? '' : '/Objects', 0);

    // Value, data type and access level of every variable, in batches.
    const variables: BrowsedVariable[] = [];
    for (let i = 0; i < found.length; i += 300) {
      const batch = found.slice(i, i + 300);
      const dvs = await session.read(batch.flatMap((f) => [
        { nodeId: f.nodeId, attributeId: lib.AttributeIds.Value },
        { nodeId: f.nodeId, attributeId: lib.AttributeIds.DataType },
        { nodeId: f.nodeId, attributeId: lib.AttributeIds.UserAccessLevel },
      ]));
      batch.forEach((f, j) => {
        const value = dvs[3 * j]! as DataValueLike;
        const type = dvs[3 * j + 1]!.value?.value as { namespace: number; value: unknown } | null;
        const access = Number(dvs[3 * j + 2]!.value?.value ?? 1);
        const dataType = type && type.namespace === 0 && typeof type.value === 'number' ? BUILT_IN[type.value] ?? `i=${type.value}` : String(type?.value ?? '?');
        const v: BrowsedVariable = {
          path: f.path, nodeId: f.nodeId, dataType, quality: qualityOf(value.statusCode?.value ?? 0),
          value: valueOf(value.value), writable: (access & 0x02) !== 0, // AccessLevel bit 1: CurrentWrite
        };
        variables.push(v);
        const shown = v.value === null ? v.quality : JSON.stringify(v.value);
        tree[f.line] = `${tree[f.line]} = ${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}  ${dataType}${v.writable ? ' rw' : ''}  (${f.nodeId})`;
      });
    }
    return { tree, variables, config: configLines(variables, o) };
  } finally {
    await link.close();
  }
}

/** Tag names from the end of the browse path, made unique by taking more of it where needed. */
function configLines(vars: readonly BrowsedVariable[], o: BrowseOptions): string[] {
  const chosen = vars.filter((v) => !o.select || o.select.test(v.path));
  const steps = chosen.map((v) => v.path.split('/').slice(1).map((s) => s.replace(/^\d+:/, '').toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '') || 'x'));
  const names = chosen.map((_, i) => {
    // Two steps of the path by default (aeration_do, pump1_running), more where two clash.
    for (let n = Math.min(2, steps[i]!.length); ; n++) {
      const name = steps[i]!.slice(-n).join('_').slice(0, 64);
      const clash = steps.some((s, j) => j !== i && s.slice(-n).join('_').slice(0, 64) === name);
      if (!clash || n >= steps[i]!.length) return name;
    }
  });
  return chosen.map((v, i) => {
    const where = o.byPath ? `path: ${JSON.stringify(v.path)}` : `node: ${JSON.stringify(v.nodeId)}`;
    return `      - { name: ${names[i]}, ${where}${v.writable ? ', writable: true' : ''} }   # ${v.dataType}`;
  });
}
