import { describe, expect, it } from 'vitest';
import { HELP, parseConfig, parseIceServers } from './config';
import { ConfigError } from './errors';

describe('config', () => {
  it('OPS1: defaults are loopback:8080, dist/web, no ICE servers', () => {
    const result = parseConfig([], {});
    expect(result).toMatchObject({
      help: false,
      options: { port: 8080, host: '127.0.0.1', staticDir: 'dist/web', iceServers: [] },
    });
  });

  it('OPS1: flags win over environment variables', () => {
    const result = parseConfig(['--port', '9000', '--host=0.0.0.0', '--heartbeat-ms', '500'], {
      PORT: '7000',
      HOST: '::1',
      STATIC_DIR: 'out',
    });
    expect(result).toMatchObject({
      help: false,
      options: { port: 9000, host: '0.0.0.0', staticDir: 'out', heartbeatMs: 500 },
    });
  });

  it('OPS1: the static dir follows WEB_OUT_DIR (where vite builds) unless given explicitly', () => {
    expect(parseConfig([], { WEB_OUT_DIR: 'dist/e2e-web' })).toMatchObject({ options: { staticDir: 'dist/e2e-web' } });
    expect(parseConfig(['--static', 'x'], { WEB_OUT_DIR: 'dist/e2e-web' })).toMatchObject({
      options: { staticDir: 'x' },
    });
  });

  it('OPS1: ICE servers parse from a JSON list or a comma list of URLs', () => {
    expect(parseIceServers('stun:a.example:3478, turn:b.example')).toEqual([
      { urls: 'stun:a.example:3478' },
      { urls: 'turn:b.example' },
    ]);
    expect(parseIceServers('[{"urls":["turn:t.example"],"username":"u","credential":"c"}]')).toEqual([
      { urls: ['turn:t.example'], username: 'u', credential: 'c' },
    ]);
    expect(() => parseIceServers('http://nope')).toThrow(ConfigError);
    expect(() => parseIceServers('[{"url":"stun:x"}]')).toThrow(ConfigError);
  });

  it('OPS1: bad values and unknown flags are clear errors; --help mentions 0.0.0.0', () => {
    expect(() => parseConfig(['--port', 'abc'], {})).toThrow(/--port/);
    expect(() => parseConfig(['--bogus', '1'], {})).toThrow(/unknown option --bogus/);
    expect(parseConfig(['--help'], {})).toEqual({ help: true });
    expect(HELP).toContain('0.0.0.0');
  });

  it('OPS1: rate limits are configurable', () => {
    const result = parseConfig(['--msg-rate', '10', '--conn-rate', '5', '--max-conns-per-ip', '3'], {});
    expect(result).toMatchObject({
      options: { limits: { messagesPerSecond: 10, connectionsPerSecond: 5, maxConnectionsPerIp: 3 } },
    });
  });

  it('OPS1/CREDIT6: --data (or DATA_DIR) keeps the receipt log on disk; absent, it stays in memory', () => {
    expect(parseConfig([], {})).not.toHaveProperty('options.dataDir');
    expect(parseConfig([], { DATA_DIR: '/var/lib/x' })).toMatchObject({ options: { dataDir: '/var/lib/x' } });
    expect(parseConfig(['--data', 'here'], { DATA_DIR: '/var/lib/x' })).toMatchObject({ options: { dataDir: 'here' } });
    expect(HELP).toContain('--data DIR');
  });

  it('CREDIT16: --fsync (no value) or FSYNC=1 turns fsync on; it is off by default', () => {
    expect(parseConfig(['--fsync', '--data', 'd'], {})).toMatchObject({ options: { fsync: true, dataDir: 'd' } });
    expect(parseConfig([], { FSYNC: '1' })).toMatchObject({ options: { fsync: true } });
    const off = parseConfig([], { FSYNC: '0' });
    expect(off.help === false && off.options.fsync).toBeFalsy();
    expect(HELP).toContain('--fsync');
  });

  it('EDGE1/EDGE2/EDGE3: proxies, origins and the raw connection cap come from flags or env, validated', () => {
    expect(
      parseConfig(
        ['--trust-proxy', '10.0.0.1, ::1', '--origins', 'https://a.example,*', '--max-http-conns', '100'],
        {},
      ),
    ).toMatchObject({
      options: {
        trustedProxies: ['10.0.0.1', '::1'],
        allowedOrigins: ['https://a.example', '*'],
        maxHttpConnections: 100,
      },
    });
    expect(parseConfig([], { TRUST_PROXY: '127.0.0.1' })).toMatchObject({ options: { trustedProxies: ['127.0.0.1'] } });
    expect(parseConfig(['--max-http-conns-per-ip', '9'], {})).toMatchObject({
      options: { maxHttpConnectionsPerIp: 9 },
    });
    expect(parseConfig(['--max-jobs-per-ip', '7'], {})).toMatchObject({ options: { limits: { maxJobsPerIp: 7 } } });
    expect(() => parseConfig(['--trust-proxy', 'proxy.local'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--origins', 'evil.example'], {})).toThrow(ConfigError);
  });

  it('SCALE1: --redis or REDIS_URL shares state through Redis; the password comes only from the environment', () => {
    expect(parseConfig([], {})).not.toMatchObject({ options: { redis: expect.anything() } });
    expect(parseConfig(['--redis', 'redis://10.0.0.5:6379/2'], { REDIS_PASSWORD: 's3cret' })).toMatchObject({
      options: { redis: { url: 'redis://10.0.0.5:6379/2', password: 's3cret' } },
    });
    expect(parseConfig([], { REDIS_URL: 'redis://:pw@r.local:6379', REDIS_PREFIX: 'net1:' })).toMatchObject({
      options: { redis: { url: 'redis://:pw@r.local:6379', prefix: 'net1:' } },
    });
    expect(() => parseConfig(['--redis', 'redis://:pw@r.local:6379'], {})).toThrow(/REDIS_PASSWORD/);
    expect(() => parseConfig(['--redis', 'http://r.local'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--redis', 'not a url'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--redis', 'redis://r.local', '--data', '/tmp/x'], {})).toThrow(/exclude/);
  });

  it("SCALE8: REDIS_PREFIX becomes the keys' hash tag, so it may not hold a brace", () => {
    expect(() => parseConfig(['--redis', 'redis://r.local'], { REDIS_PREFIX: '{net}:' })).toThrow(/hash tag/);
  });

  it('SCALE8: --redis-cluster or REDIS_CLUSTER=1 takes the --redis URL as one node of a Cluster, db 0 only', () => {
    expect(parseConfig(['--redis', 'redis://10.0.0.5:7000', '--redis-cluster'], {})).toMatchObject({
      options: { redis: { url: 'redis://10.0.0.5:7000', cluster: true } },
    });
    expect(parseConfig([], { REDIS_URL: 'redis://10.0.0.5:7000/0', REDIS_CLUSTER: '1' })).toMatchObject({
      options: { redis: { cluster: true } },
    });
    const plain = parseConfig(['--redis', 'redis://10.0.0.5:6379'], { REDIS_CLUSTER: '0' });
    expect(!plain.help && plain.options.redis?.cluster).toBeFalsy();
    expect(() => parseConfig(['--redis', 'redis://10.0.0.5:7000/2', '--redis-cluster'], {})).toThrow(/db 0/);
    expect(() => parseConfig(['--redis-cluster'], {})).toThrow(/needs --redis/);
    expect(HELP).toContain('--redis-cluster');
  });
});
