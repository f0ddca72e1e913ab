// The HTTP edge's settings: environment variables and flags, CORS origins normalised as
// browsers send them, and the relations between bounds refused at start-up.
import { describe, expect, it } from 'vitest';
import { defaultConfig, defaultHttpSettings, flagsToEnv, loadConfig, validateHttpSettings, type Config } from '../../src/config.js';
import { expectBadInput } from '../support/expectBadInput.js';

function withHttp(http: Partial<Config['http']>, limits: Partial<Config['limits']> = {}): Config {
  return { ...defaultConfig, http: { ...defaultHttpSettings, ...http }, limits: { ...defaultConfig.limits, ...limits } };
}

describe('HTTP settings', () => {
  it('httpSettings_whenEnvIsEmpty_sendNoCorsHeadersAndUseTheDocumentedDefaults', () => {
    const { http } = loadConfig({}, []);
    expect(http).toEqual(defaultHttpSettings);
    expect(http.corsOrigins).toEqual([]);
    expect(http.maxResponseBytes).toBe(32 * 1024 * 1024);
    expect(http.requestTimeoutMs).toBe(60_000);
    expect(http.maxConnections).toBeLessThan(20_000);
  });

  it('httpSettings_whenEnvAndFlagsSetThem_overrideTheDefaults', () => {
    const config = loadConfig(
      { ENGRAM_MAX_RESPONSE_BYTES: '1048576', ENGRAM_BODY_IDLE_TIMEOUT_MS: '2000', ENGRAM_MAX_CONNECTIONS: '2048', ENGRAM_MAX_IN_FLIGHT_REQUESTS: '256' },
      ['--cors-origins', 'https://App.Example.com, http://localhost:3000', '--request-timeout-ms=30000', '--headers-timeout-ms', '5000', '--keep-alive-timeout-ms', '5000'],
    );
    expect(config.http).toMatchObject({
      maxResponseBytes: 1_048_576,
      bodyIdleTimeoutMs: 2000,
      maxConnections: 2048,
      maxInFlightRequests: 256,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 5000,
      keepAliveTimeoutMs: 5000,
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
    });
    expect(flagsToEnv(['--max-response-bytes', '2048', '--max-buffered-body-bytes', '9000000'])).toEqual({ ENGRAM_MAX_RESPONSE_BYTES: '2048', ENGRAM_MAX_BUFFERED_BODY_BYTES: '9000000' });
  });

  it('corsOrigins_whenStar_allowAnyOriginAndRefuseAMixOfStarAndOrigins', () => {
    expect(loadConfig({ ENGRAM_CORS_ORIGINS: '*' }, []).http.corsOrigins).toBe('*');
    expect(expectBadInput(() => loadConfig({ ENGRAM_CORS_ORIGINS: '*, https://a.example' }, [])).message).toMatch(/either \*/);
  });

  it('corsOrigins_whenAnEntryIsNotAnOrigin_refuseToStart', () => {
    for (const entry of ['app.example.com', 'https://app.example.com/', 'https://app.example.com/path', 'ftp://files.example', 'null']) {
      expect(expectBadInput(() => loadConfig({ ENGRAM_CORS_ORIGINS: entry }, [])).message, entry).toContain('ENGRAM_CORS_ORIGINS');
    }
  });

  it('validateHttpSettings_whenBoundsContradictEachOther_refuseToStart', () => {
    expect(expectBadInput(() => validateHttpSettings(withHttp({ headersTimeoutMs: 70_000 }))).message).toContain('ENGRAM_HEADERS_TIMEOUT_MS');
    expect(expectBadInput(() => validateHttpSettings(withHttp({ bodyIdleTimeoutMs: 70_000 }))).message).toContain('ENGRAM_BODY_IDLE_TIMEOUT_MS');
    expect(expectBadInput(() => validateHttpSettings(withHttp({ maxInFlightRequests: 9000 }))).message).toContain('ENGRAM_MAX_IN_FLIGHT_REQUESTS');
    expect(expectBadInput(() => validateHttpSettings(withHttp({ maxBufferedBodyBytes: 1024 }))).message).toContain('ENGRAM_MAX_BUFFERED_BODY_BYTES');
    expect(expectBadInput(() => validateHttpSettings(withHttp({ maxJsonDepth: 5000 }))).message).toContain('maxJsonDepth');
    expect(expectBadInput(() => validateHttpSettings(withHttp({ maxResponseBytes: 0 }))).message).toContain('maxResponseBytes');
    expect(expectBadInput(() => validateHttpSettings(withHttp({ operations: { ...defaultHttpSettings.operations, maxNesting: 5000 } }))).message).toContain('maxNesting');
    expect(expectBadInput(() => loadConfig({ ENGRAM_MAX_RESPONSE_BYTES: '12' }, [])).message).toContain('ENGRAM_MAX_RESPONSE_BYTES');
    expect(() => validateHttpSettings(defaultConfig)).not.toThrow();
  });
});
