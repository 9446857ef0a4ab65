// The Sparkplug B topic namespace of one edge node (spec §4.1): `spBv1.0/{group_id}/{verb}/{edge_node_id}`
// with `/{device_id}` for the device verbs, and the primary host's `spBv1.0/STATE/{host_id}`.
// Pure: ids from the configuration in, topic strings out, and received topics parsed back.
import type { SiteConfig, UpstreamConfig } from '../../gateway/model/index.ts';

export const NAMESPACE = 'spBv1.0';

export type NodeVerb = 'NBIRTH' | 'NDEATH' | 'NDATA' | 'NCMD';
export type DeviceVerb = 'DBIRTH' | 'DDEATH' | 'DDATA' | 'DCMD';

export interface SparkplugIds {
  group: string;
  edge: string;
  /** The primary host application whose STATE gates the births; undefined: publish at once. */
  primaryHost: string | undefined;
}

/**
 * The ids of this edge node: group_id defaults to the site's district code (one group per district
 * platform), else `cityedge`; edge_node_id to the site id. The schema keeps configured ids free of
 * `/ + #` [tck-id-topic-structure-namespace-valid-group-id] [tck-id-topic-structure-namespace-valid-edge-node-id];
 * the defaults are `[a-z0-9_-]` or digits.
 */
export function sparkplugIds(upstream: UpstreamConfig, site: SiteConfig): SparkplugIds {
  return {
    group: upstream.group_id ?? site.district ?? 'cityedge',
    edge: upstream.edge_node_id ?? site.id,
    primaryHost: upstream.primary_host_id,
  };
}

export interface SparkplugTopics {
  /** [tck-id-topics-nbirth-topic] [tck-id-topics-ndeath-topic] [tck-id-topics-ndata-topic] [tck-id-topics-ncmd-topic] */
  node(verb: NodeVerb): string;
  /** [tck-id-topics-dbirth-topic] [tck-id-topics-ddeath-topic] [tck-id-topics-ddata-topic] [tck-id-topics-dcmd-topic] */
  device(verb: DeviceVerb, device: string): string;
  /** Every device's DCMD: `spBv1.0/{g}/DCMD/{e}/+`. */
  readonly dcmdFilter: string;
  /** `spBv1.0/STATE/{host_id}` [tck-id-host-topic-phid-birth-topic], when a primary host is configured. */
  readonly state: string | undefined;
  /** What a received topic is for this node: a command (NCMD, DCMD with its device), STATE, or nothing of ours. */
  parse(topic: string): { kind: 'NCMD' } | { kind: 'DCMD'; device: string } | { kind: 'STATE' } | undefined;
}

export function sparkplugTopics(ids: SparkplugIds): SparkplugTopics {
  const base = `${NAMESPACE}/${ids.group}`;
  const ncmd = `${base}/NCMD/${ids.edge}`;
  const dcmdPrefix = `${base}/DCMD/${ids.edge}/`;
  const state = ids.primaryHost === undefined ? undefined : `${NAMESPACE}/STATE/${ids.primaryHost}`;
  return {
    node: (verb) => `${base}/${verb}/${ids.edge}`,
    device: (verb, device) => `${base}/${verb}/${ids.edge}/${device}`,
    dcmdFilter: `${dcmdPrefix}+`,
    state,
    parse(topic) {
      if (topic === ncmd) return { kind: 'NCMD' };
      if (topic === state) return { kind: 'STATE' };
      if (topic.startsWith(dcmdPrefix)) {
        const device = topic.slice(dcmdPrefix.length);
        if (device.length > 0 && !device.includes('/')) return { kind: 'DCMD', device };
      }
      return undefined;
    },
  };
}
