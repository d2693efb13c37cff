import { describe, expect, it } from 'vitest';
import { modelVersion } from '@shared/tensor';
import { affineModel } from '../testing/affine-job';
import { JobModel } from './job-model';
import { ModelDelivery } from './model-delivery';

describe('which version a unit is sent with', () => {
  it('MD1: a unit keeps its version while a copy is out or a result waits; afresh after the switch it takes the new one', async () => {
    const model = await JobModel.open([await modelVersion(affineModel(2, 1))]);
    const v1 = model.current.hash;
    const delivery = new ModelDelivery({ model, send: () => true, changed: () => {}, failed: () => {} });
    expect(delivery.dispatch('a', 7)).toBe(v1);
    await model.publish(await modelVersion(affineModel(2, 1.5)));
    const v2 = model.current.hash;
    // Its replica, sent after the switch while the first copy is out, is computed with the same version.
    expect(delivery.dispatch('b', 7)).toBe(v1);
    expect(delivery.arrived('a', 7)).toBe(v1);
    delivery.returned('b', 7);
    // A result of v1 waits for its check: another copy must be v1 too, and the check runs v1.
    expect(delivery.dispatch('c', 7)).toBe(v1);
    expect(delivery.versionOf(7)).toBe(v1);
    expect(delivery.arrived('c', 7)).toBe(v1);
    delivery.settled(7);
    // Nothing of unit 7 is out or waiting: sent again (e.g. after its provider was caught) it takes v2.
    expect(delivery.dispatch('d', 7)).toBe(v2);
    expect(delivery.dispatch('a', 8)).toBe(v2);
    // A result from a provider the unit was not out to names no version.
    expect(delivery.arrived('b', 8)).toBeUndefined();
  });
});
