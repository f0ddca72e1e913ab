import { describe, expect, it } from 'vitest';
import { defaultConfig, flagsToEnv, loadConfig, presets, validateConfig } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import { expectBadInput } from '../support/expectBadInput.js';

/** Runs `fn`, expects a BadInputError, and returns its message. */
function badInput(fn: () => unknown): string {
  return expectBadInput(fn).message;
}

describe('loadConfig', () => {
  it('loadConfig_whenEnvIsEmpty_returnsDefaults', () => {
    const config = loadConfig({}, []);
    expect(config).toEqual(defaultConfig);
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(4000);
    expect(config.dataDir).toBe('./data');
    expect(config.nodeId).toBeUndefined();
    expect(config.cluster).toBe('engram');
    expect(config.seeds).toEqual([]);
    expect(config.replicationFactor).toBe(3);
    expect(config.logLevel).toBe('info');
    expect(config.engine.defaultDimension).toBe(768);
  });

  it('loadConfig_whenEnvValuesAreBlank_usesDefaults', () => {
    expect(loadConfig({ ENGRAM_PORT: '', ENGRAM_HOST: '   ', ENGRAM_NODE_ID: '' }, [])).toEqual(defaultConfig);
  });

  it('loadConfig_whenEnvSetsValues_overridesDefaults', () => {
    const config = loadConfig(
      {
        ENGRAM_HOST: '0.0.0.0',
        ENGRAM_PORT: '4100',
        ENGRAM_DATA_DIR: '/var/lib/engram',
        ENGRAM_NODE_ID: 'node-1',
        ENGRAM_NATS_URL: 'nats://localhost:4222',
        ENGRAM_CLUSTER: 'prod_eu',
        ENGRAM_SEEDS: ' a:1 , b:2,,',
        ENGRAM_RACK: 'r1',
        ENGRAM_ZONE: 'z1',
        ENGRAM_REPLICATION_FACTOR: '5',
        ENGRAM_EMBEDDING_DIM: '384',
        ENGRAM_LOG_LEVEL: 'debug',
      },
      [],
    );
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 4100,
      dataDir: '/var/lib/engram',
      nodeId: 'node-1',
      natsUrl: 'nats://localhost:4222',
      cluster: 'prod_eu',
      seeds: ['a:1', 'b:2'],
      rack: 'r1',
      zone: 'z1',
      replicationFactor: 5,
      logLevel: 'debug',
    });
    expect(config.engine.defaultDimension).toBe(384);
    expect(config.engine.spreadDepth).toBe(defaultConfig.engine.spreadDepth);
  });

  it('loadConfig_whenPortFlagSeparateFromValue_overridesEnv', () => {
    expect(loadConfig({ ENGRAM_PORT: '4100' }, ['--port', '5000']).port).toBe(5000);
  });

  it('loadConfig_whenPortFlagHasInlineValue_overridesEnv', () => {
    expect(loadConfig({ ENGRAM_PORT: '4100' }, ['--port=5000']).port).toBe(5000);
  });

  it('loadConfig_whenSeveralFlagsGiven_appliesEachOne', () => {
    const config = loadConfig({}, ['--host=::1', '--node-id', 'n2', '--seeds=h1:1,h2:2', '--log-level', 'warn']);
    expect(config.host).toBe('::1');
    expect(config.nodeId).toBe('n2');
    expect(config.seeds).toEqual(['h1:1', 'h2:2']);
    expect(config.logLevel).toBe('warn');
  });

  it('loadConfig_whenBaseIsTestPreset_keepsPresetValuesNotOverridden', () => {
    const config = loadConfig({ ENGRAM_LOG_LEVEL: 'error' }, [], presets.test);
    expect(config.port).toBe(0);
    expect(config.logLevel).toBe('error');
    expect(config.engine.touchFlushIntervalMs).toBe(100);
  });

  it('loadConfig_whenFlagIsUnknown_rejectsNamingTheFlag', () => {
    expect(badInput(() => loadConfig({}, ['--bogus', '1']))).toContain('--bogus');
  });

  it('loadConfig_whenArgumentIsNotAFlag_rejectsIt', () => {
    expect(badInput(() => loadConfig({}, ['5000']))).toContain('5000');
  });

  it('loadConfig_whenFlagHasNoValue_rejectsNamingTheFlag', () => {
    expect(badInput(() => loadConfig({}, ['--port']))).toContain('--port');
  });

  it('loadConfig_whenIntegerIsMalformed_rejectsNamingTheVariable', () => {
    for (const raw of ['abc', '50.5', '4000x']) {
      expect(badInput(() => loadConfig({ ENGRAM_PORT: raw }, []))).toContain('ENGRAM_PORT');
    }
  });

  it('loadConfig_whenIntegerIsOutOfRange_rejectsNamingTheVariable', () => {
    expect(badInput(() => loadConfig({ ENGRAM_PORT: '65536' }, []))).toContain('ENGRAM_PORT');
    expect(badInput(() => loadConfig({ ENGRAM_PORT: '-1' }, []))).toContain('ENGRAM_PORT');
    expect(badInput(() => loadConfig({ ENGRAM_REPLICATION_FACTOR: '0' }, []))).toContain('ENGRAM_REPLICATION_FACTOR');
    expect(badInput(() => loadConfig({ ENGRAM_REPLICATION_FACTOR: '16' }, []))).toContain('ENGRAM_REPLICATION_FACTOR');
    expect(badInput(() => loadConfig({ ENGRAM_EMBEDDING_DIM: '4097' }, []))).toContain('ENGRAM_EMBEDDING_DIM');
  });

  it('loadConfig_whenIntegerIsAtRangeEdges_acceptsIt', () => {
    expect(loadConfig({ ENGRAM_PORT: '0' }, []).port).toBe(0);
    expect(loadConfig({ ENGRAM_PORT: '65535' }, []).port).toBe(65535);
    expect(loadConfig({ ENGRAM_EMBEDDING_DIM: '4096' }, []).engine.defaultDimension).toBe(4096);
  });

  it('loadConfig_whenFlagValueIsBadInteger_rejectsNamingTheVariable', () => {
    expect(badInput(() => loadConfig({}, ['--port=http']))).toContain('ENGRAM_PORT');
  });

  it('loadConfig_whenNodeIdIsInvalid_rejectsNamingTheVariable', () => {
    for (const nodeId of ['has space', 'dot.ted', 'x'.repeat(65), 'ünï']) {
      expect(badInput(() => loadConfig({ ENGRAM_NODE_ID: nodeId }, []))).toContain('ENGRAM_NODE_ID');
    }
  });

  it('loadConfig_whenClusterNameIsInvalid_rejectsNamingTheVariable', () => {
    for (const cluster of ['a.b', 'a*', 'a>b', 'x'.repeat(65)]) {
      expect(badInput(() => loadConfig({ ENGRAM_CLUSTER: cluster }, []))).toContain('ENGRAM_CLUSTER');
    }
    expect(badInput(() => loadConfig({}, ['--cluster', 'a b']))).toContain('ENGRAM_CLUSTER');
  });

  it('loadConfig_whenLogLevelIsUnknown_rejectsNamingTheVariable', () => {
    expect(badInput(() => loadConfig({ ENGRAM_LOG_LEVEL: 'verbose' }, []))).toContain('ENGRAM_LOG_LEVEL');
  });
});

describe('flagsToEnv', () => {
  it('loadConfig_localReads_areOnByDefault_andTurnOffByVariableOrFlag_andRejectAnythingButABoolean', () => {
    expect(loadConfig({}).query.localReads).toBe(true);
    expect(loadConfig({ ENGRAM_LOCAL_READS: 'false' }).query.localReads).toBe(false);
    expect(loadConfig({}, ['--local-reads', '0']).query.localReads).toBe(false);
    expect(() => loadConfig({ ENGRAM_LOCAL_READS: 'sometimes' })).toThrow(/ENGRAM_LOCAL_READS/);
  });

  it('flagsToEnv_whenInlineValueContainsEquals_keepsEverythingAfterTheFirst', () => {
    expect(flagsToEnv(['--nats-url=nats://u:p@h:4222/?a=b'])).toEqual({ ENGRAM_NATS_URL: 'nats://u:p@h:4222/?a=b' });
  });

  it('flagsToEnv_whenNoFlags_returnsEmpty', () => {
    expect(flagsToEnv([])).toEqual({});
  });

  it('flagsToEnv_whenEveryKnownFlagGiven_mapsEachToItsVariable', () => {
    expect(
      flagsToEnv([
        '--host=h', '--port=1', '--data-dir=d', '--node-id=n', '--nats-url=u', '--cluster=c',
        '--seeds=s', '--rack=r', '--zone=z', '--replication-factor=2', '--embedding-dim=8', '--log-level=info',
      ]),
    ).toEqual({
      ENGRAM_HOST: 'h', ENGRAM_PORT: '1', ENGRAM_DATA_DIR: 'd', ENGRAM_NODE_ID: 'n', ENGRAM_NATS_URL: 'u', ENGRAM_CLUSTER: 'c',
      ENGRAM_SEEDS: 's', ENGRAM_RACK: 'r', ENGRAM_ZONE: 'z', ENGRAM_REPLICATION_FACTOR: '2', ENGRAM_EMBEDDING_DIM: '8', ENGRAM_LOG_LEVEL: 'info',
    });
  });
});

describe('validateConfig', () => {
  function withEngine(overrides: Partial<Config['engine']>): Config {
    return { ...defaultConfig, engine: { ...defaultConfig.engine, ...overrides } };
  }

  it('validateConfig_whenDefaults_accepts', () => {
    expect(() => validateConfig(defaultConfig)).not.toThrow();
    expect(() => validateConfig(presets.test)).not.toThrow();
  });

  it('validateConfig_whenHopDecayOutsideOpenUnitInterval_rejects', () => {
    expect(badInput(() => validateConfig(withEngine({ hopDecay: 0 })))).toContain('hopDecay');
    expect(badInput(() => validateConfig(withEngine({ hopDecay: 1 })))).toContain('hopDecay');
  });

  it('validateConfig_whenDefaultShardsExceedMax_rejects', () => {
    expect(badInput(() => validateConfig(withEngine({ defaultShards: 300 })))).toContain('defaultShards');
  });

  it('validateConfig_whenLinkThresholdOutsideUnitRange_rejects', () => {
    expect(badInput(() => validateConfig(withEngine({ linkThreshold: 1.1 })))).toContain('linkThreshold');
  });

  it('validateConfig_whenMaxResultsBelowOne_rejects', () => {
    expect(badInput(() => validateConfig({ ...defaultConfig, limits: { ...defaultConfig.limits, maxResults: 0 } }))).toContain('maxResults');
  });
});

describe('authentication settings', () => {
  it('requires keys on any address but loopback unless ENGRAM_AUTH says otherwise', () => {
    expect(loadConfig({}).auth.mode).toBe('off');
    expect(loadConfig({ ENGRAM_HOST: '::1' }).auth.mode).toBe('off');
    expect(loadConfig({ ENGRAM_HOST: '0.0.0.0' }).auth.mode).toBe('keys');
    expect(loadConfig({ ENGRAM_HOST: '10.0.0.5' }).auth.mode).toBe('keys');
    expect(loadConfig({ ENGRAM_HOST: '0.0.0.0', ENGRAM_AUTH: 'off' }).auth.mode).toBe('off');
    expect(loadConfig({}, ['--auth', 'keys', '--admin-key-file', '/etc/engram/admin.key']).auth).toMatchObject({ mode: 'keys', adminKeyFile: '/etc/engram/admin.key' });
    expect(badInput(() => loadConfig({ ENGRAM_AUTH: 'password' }))).toContain('ENGRAM_AUTH');
  });

  it('reads the metrics address and the default key rate', () => {
    expect(loadConfig({ ENGRAM_METRICS_ADDR: '10.0.0.5:9464' }).metricsAddr).toBe('10.0.0.5:9464');
    expect(loadConfig({ ENGRAM_METRICS_ADDR: '[::1]:9464' }).metricsAddr).toBe('[::1]:9464');
    for (const bad of ['9464', 'host:', 'host:99999', 'a b:1']) expect(badInput(() => loadConfig({ ENGRAM_METRICS_ADDR: bad }))).toContain('ENGRAM_METRICS_ADDR');
    expect(loadConfig({ ENGRAM_KEY_RATE_PER_S: '50' }).auth.defaultRatePerSecond).toBe(50);
    expect(badInput(() => loadConfig({ ENGRAM_KEY_RATE_PER_S: '0' }))).toContain('ENGRAM_KEY_RATE_PER_S');
  });
});
