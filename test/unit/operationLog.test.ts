import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LOG_FORMAT_VERSION, decodeLogEntry, encodeLogEntry, operationTypes } from '../../src/storage/operationLog.js';
import type { OperationType } from '../../src/storage/operationLog.js';

const HEADER_BYTES = 14;

function expectCorruption(fn: () => unknown, message?: RegExp, label = 'expected a CorruptionError'): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, label).toBeInstanceOf(Error);
  expect((caught as Error).name).toBe('CorruptionError');
  if (message) expect((caught as Error).message).toMatch(message);
}

const sampleEntry = { type: 'STORE' as OperationType, timestampMs: 1_700_000_000_123.5, payload: { id: 'm1', tags: ['a', 'b'], n: 3 } };

describe('operationTypes', () => {
  it('operationTypes_whenReadFromDisk_keepTheirAppendOnlyCodes', () => {
    expect([...operationTypes]).toEqual(['CREATE_SPACE', 'STORE', 'UPDATE', 'DELETE', 'SUPPRESS', 'TOUCH', 'CONSOLIDATION', 'CHECKPOINT']);
  });
});

describe('encodeLogEntry', () => {
  it('encodeLogEntry_whenEncoding_writesDocumentedHeaderLayout', () => {
    const value = encodeLogEntry(sampleEntry);
    expect(LOG_FORMAT_VERSION).toBe(1);
    expect(value.readUInt8(0)).toBe(1);
    expect(value.readUInt32BE(1)).toBe(crc32(value.subarray(5)));
    expect(value.readUInt8(5)).toBe(1); // STORE
    expect(value.readDoubleBE(6)).toBe(sampleEntry.timestampMs);
    expect(JSON.parse(value.subarray(HEADER_BYTES).toString())).toEqual(sampleEntry.payload);
  });

  it('encodeLogEntry_forEachType_writesItsIndexAsTypeCode', () => {
    operationTypes.forEach((type, code) => {
      expect(encodeLogEntry({ type, timestampMs: 0, payload: null }).readUInt8(5)).toBe(code);
    });
  });
});

describe('decodeLogEntry', () => {
  it('decodeLogEntry_whenValueWasEncoded_roundTripsEveryField', () => {
    const decoded = decodeLogEntry(3, 42, encodeLogEntry(sampleEntry));
    expect(decoded).toEqual({ shard: 3, seq: 42, ...sampleEntry });
  });

  it('decodeLogEntry_forEveryTypeAndPayloadShape_roundTrips', () => {
    const payloads: unknown[] = [null, 0, -1.5, 'text', '', 'ünïcødé 東京 🧠', [], [1, [2, { a: null }]], { nested: { deep: [true, false] } }];
    for (const type of operationTypes) {
      for (const payload of payloads) {
        for (const timestampMs of [0, -62_135_596_800_000, 253_402_300_799_999, 1.25]) {
          const decoded = decodeLogEntry(0, 1, encodeLogEntry({ type, timestampMs, payload }));
          expect(decoded).toEqual({ shard: 0, seq: 1, type, timestampMs, payload });
        }
      }
    }
  });

  it('decodeLogEntry_whenAnyByteAfterTheFormatIsFlipped_throwsCorruptionError', () => {
    const value = encodeLogEntry(sampleEntry);
    // Bytes 1..4 are the CRC itself; 5.. are type, timestamp and payload, all covered by it.
    for (let i = 1; i < value.length; i++) {
      for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff]) {
        const corrupted = Buffer.from(value);
        corrupted[i]! ^= mask;
        expectCorruption(() => decodeLogEntry(0, 1, corrupted), /checksum/);
      }
    }
  });

  it('decodeLogEntry_whenTypeByteIsFlipped_throwsCorruptionError', () => {
    // A flipped type bit must not silently turn a STORE into another operation.
    const value = encodeLogEntry(sampleEntry);
    for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]) {
      const corrupted = Buffer.from(value);
      corrupted[5]! ^= mask;
      expectCorruption(() => decodeLogEntry(0, 1, corrupted), undefined, `type byte ${value[5]} xor 0x${mask.toString(16)} decoded without error`);
    }
  });

  it('decodeLogEntry_whenEntryIsTorn_throwsCorruptionError', () => {
    const value = encodeLogEntry(sampleEntry);
    for (let length = 0; length < value.length; length++) {
      expectCorruption(() => decodeLogEntry(0, 1, value.subarray(0, length)));
    }
  });

  it('decodeLogEntry_whenFormatVersionIsUnknown_throwsCorruptionError', () => {
    for (const version of [0, 2, 255]) {
      const value = encodeLogEntry(sampleEntry);
      value.writeUInt8(version, 0);
      expectCorruption(() => decodeLogEntry(7, 9, value), /7\/9 has an unknown format/);
    }
  });

  it('decodeLogEntry_whenTypeCodeIsOutOfRange_throwsCorruptionError', () => {
    const value = encodeLogEntry(sampleEntry);
    value.writeUInt8(operationTypes.length, 5);
    value.writeUInt32BE(crc32(value.subarray(5)), 1);
    expectCorruption(() => decodeLogEntry(0, 1, value), /unknown type/);
  });

  it('decodeLogEntry_whenCorrupted_reportsInternalServerErrorCode', () => {
    const value = encodeLogEntry(sampleEntry);
    value[value.length - 1]! ^= 0x01;
    try {
      decodeLogEntry(0, 1, value);
      expect.fail('expected decode to throw');
    } catch (err) {
      expect((err as { code?: string }).code).toBe('INTERNAL_SERVER_ERROR');
    }
  });
});
