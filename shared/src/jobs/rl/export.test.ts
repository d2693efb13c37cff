import { onnx } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { policyOnnx, policySafetensors } from './export';
import { RL_TEST_CONFIG, policyParams } from './testing';

describe('policy export (RL-EX1)', () => {
  it('RL-EX1: the ONNX graph and the safetensors checkpoint carry the weights, config and character vocabulary', () => {
    const params = policyParams(2);
    const model = onnx.ModelProto.decode(policyOnnx(RL_TEST_CONFIG, params));
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.tokenizer!)).toMatchObject({ kind: 'characters', pad: 0, eos: 1 });
    expect(JSON.parse(meta.config!)).toEqual(RL_TEST_CONFIG);
    const st = policySafetensors(RL_TEST_CONFIG, params, 7);
    const headerLength = Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + headerLength)));
    expect(header.__metadata__.step).toBe('7');
    expect(JSON.parse(header.__metadata__.tokenizer)).toMatchObject({ kind: 'characters' });
  });
});
