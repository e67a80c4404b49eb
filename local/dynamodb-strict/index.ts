// The strict DynamoDB layer: an HTTP proxy in front of DynamoDB Local that refuses what DynamoDB refuses
// (transaction conflicts, per-partition throughput, items over 400 KB) and deletes expired items (TTL), in a
// worker thread of its own. The local stack puts it between every client and DynamoDB Local; see README
// "Strict DynamoDB".
export {
  type PartitionCharge,
  type RunningStrictLayer,
  type StrictLayerOptions,
  startStrictLayer,
  type TappedRequest,
} from './layer';
export { emptyStats, type StrictStats } from './rules';
export type { TtlTable } from './ttl';
export type { UpstreamTarget } from './upstream';
