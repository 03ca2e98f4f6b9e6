/**
 * The observer's summary lists the cluster's nodes: none outside a cluster, then
 * this node first and its peers once it is a node. Its own file: a process is
 * one node, and must become one before its first spawn.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, describe, expect, it } from 'vitest';
import { startNode, connectNats, type ClusterNode } from '../../src/runtime/cluster/index.js';
import { Sampler } from '../../src/observer/sampler.js';
import { sharedUrl, uniqueCluster } from '../cluster/brokers.js';
import { NodeProc, killAll } from '../cluster/harness.js';

let here: ClusterNode | undefined;
afterAll(async () => {
  await here?.stop();
  await killAll();
});

describe('Sampler summary nodes', () => {
  it('is empty outside a cluster, then this node and the peers that are up', { timeout: 90_000 }, async () => {
    const sampler = new Sampler();
    sampler.sample();
    expect(sampler.summary().nodes).toEqual([]);

    const url = sharedUrl('nats');
    const cluster = uniqueCluster();
    here = await startNode({ name: 'obs-here', cluster, transport: await connectNats({ servers: url }), nodeDownAfterMs: 5000 });
    const peerUp = new Promise<void>((resolve) => {
      const onUp = (m: unknown): void => {
        if ((m as { node: string }).node !== 'obs-peer') return;
        unsubscribe('beamsock:cluster:nodeup', onUp);
        resolve();
      };
      subscribe('beamsock:cluster:nodeup', onUp);
    });
    await NodeProc.start({ kind: 'nats', url, name: 'obs-peer', cluster, nodeDownAfterMs: 5000 });
    await peerUp;
    sampler.sample();
    expect(sampler.summary().nodes).toEqual(['obs-here', 'obs-peer']);
  });
});
