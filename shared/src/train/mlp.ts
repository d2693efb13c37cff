/**
 * The MLP classifier: logits = fc2(gelu(fc1(x))), softmax cross-entropy on
 * the class label. Inputs sit in acts.x, labels in the targets region.
 */
import type { MlpConfig } from './config';
import type { Kernels } from './kernels';
import { type Arena, offsets } from './layout';

export function mlpForward(k: Kernels, arena: Arena): void {
  const c = arena.config as MlpConfig;
  const B = arena.B;
  const p = offsets(arena.params, arena.paramsAt);
  const a = offsets(arena.acts, arena.actsAt);
  k.matmulForward(a.h!, a.x!, p.fc1w!, p.fc1b!, B, c.inputs, c.hidden);
  k.geluForward(a.hGelu!, a.h!, B * c.hidden);
  k.matmulForward(a.logits!, a.hGelu!, p.fc2w!, p.fc2b!, B, c.hidden, c.classes);
  k.crossentropyForward(a.losses!, a.probs!, a.logits!, arena.targetsAt, B, c.classes);
}

export function mlpBackward(k: Kernels, arena: Arena): void {
  const c = arena.config as MlpConfig;
  const B = arena.B;
  const p = offsets(arena.params, arena.paramsAt);
  const g = offsets(arena.params, arena.gradsAt);
  const a = offsets(arena.acts, arena.actsAt);
  const d = offsets(arena.acts, arena.dactsAt);
  k.zero(arena.gradsAt, arena.params.size);
  k.zero(arena.dactsAt, arena.acts.size);
  k.crossentropyBackward(d.logits!, a.probs!, arena.targetsAt, B, c.classes);
  k.matmulBackward(d.hGelu!, g.fc2w!, g.fc2b!, d.logits!, a.hGelu!, p.fc2w!, B, c.hidden, c.classes);
  k.geluBackward(d.h!, a.h!, d.hGelu!, B * c.hidden);
  k.matmulBackward(d.x!, g.fc1w!, g.fc1b!, d.h!, a.x!, p.fc1w!, B, c.inputs, c.hidden);
}
