// Goldfish RTC: TIME_LOW latches TIME_HIGH, setting the time, the alarm and
// its interrupt as Linux's rtc-goldfish driver uses them, saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GoldfishRtc,
  RTC_ALARM_HIGH,
  RTC_ALARM_LOW,
  RTC_ALARM_STATUS,
  RTC_CLEAR_ALARM,
  RTC_CLEAR_INTERRUPT,
  RTC_IRQ_ENABLED,
  RTC_TIME_HIGH,
  RTC_TIME_LOW,
} from './goldfishRtc.js';
import { FakeLine } from './testIrq.js';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';

function setup(start = 1_767_225_600_000_000_000n): {
  rtc: GoldfishRtc;
  clock: { t: bigint };
  line: FakeLine;
} {
  const clock = { t: start };
  const line = new FakeLine();
  return { rtc: new GoldfishRtc(() => clock.t, line), clock, line };
}

function readTime(rtc: GoldfishRtc): bigint {
  const lo = rtc.read(RTC_TIME_LOW, 4);
  const hi = rtc.read(RTC_TIME_HIGH, 4);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

test('TIME_LOW returns the low half and latches the high half', () => {
  const { rtc, clock } = setup(0x1234_5678_9abc_def0n);
  assert.equal(rtc.read(RTC_TIME_LOW, 4), 0x9abcdef0);
  clock.t = 0x1234_5679_0000_0001n; // the high half moves on
  assert.equal(rtc.read(RTC_TIME_HIGH, 4), 0x12345678, 'TIME_HIGH is the latched value');
  assert.equal(readTime(rtc), 0x1234_5679_0000_0001n);
});

test('setting the time as Linux does (TIME_HIGH, then TIME_LOW) and the clock runs on', () => {
  const { rtc, clock } = setup();
  const want = 1_000_000_000_000_000_000n;
  rtc.write(RTC_TIME_HIGH, 4, Number(want >> 32n));
  rtc.write(RTC_TIME_LOW, 4, Number(want & 0xffffffffn));
  assert.equal(readTime(rtc), want);
  clock.t += 5_000n;
  assert.equal(readTime(rtc), want + 5_000n);
});

test('alarm: arms on ALARM_LOW, fires on update() when due, interrupt when enabled', () => {
  const { rtc, clock, line } = setup(1_000_000n);
  const at = 3_000_000n;
  rtc.write(RTC_ALARM_HIGH, 4, 0);
  rtc.write(RTC_ALARM_LOW, 4, Number(at));
  rtc.write(RTC_IRQ_ENABLED, 4, 1);
  assert.equal(rtc.read(RTC_ALARM_STATUS, 4), 1);
  assert.equal(rtc.read(RTC_ALARM_LOW, 4), Number(at));
  assert.equal(rtc.read(RTC_IRQ_ENABLED, 4), 1);
  assert.equal(rtc.nsUntilAlarm(), 2_000_000);
  rtc.update();
  assert.equal(line.level, false);
  clock.t = at;
  rtc.update();
  assert.equal(line.level, true);
  assert.equal(rtc.read(RTC_ALARM_STATUS, 4), 0, 'a fired alarm is disarmed');
  assert.equal(rtc.nsUntilAlarm(), Infinity);
  rtc.write(RTC_CLEAR_INTERRUPT, 4, 1);
  assert.equal(line.level, false);
});

test('an alarm in the past fires at once; disabled interrupt holds it back; CLEAR_ALARM disarms', () => {
  const { rtc, clock, line } = setup(10_000n);
  rtc.write(RTC_ALARM_LOW, 4, 5_000);
  assert.equal(rtc.read(RTC_ALARM_STATUS, 4), 0);
  assert.equal(line.level, false, 'interrupt not enabled');
  rtc.write(RTC_IRQ_ENABLED, 4, 1);
  assert.equal(line.level, true, 'pending alarm shows once enabled');
  rtc.write(RTC_IRQ_ENABLED, 4, 0);
  assert.equal(line.level, false);
  rtc.write(RTC_CLEAR_INTERRUPT, 4, 1);
  rtc.write(RTC_IRQ_ENABLED, 4, 1);
  assert.equal(line.level, false);
  rtc.write(RTC_ALARM_LOW, 4, 20_000);
  rtc.write(RTC_CLEAR_ALARM, 4, 1);
  clock.t = 30_000n;
  rtc.update();
  assert.equal(line.level, false);
});

test('save/restore keeps the guest adjustment relative to the wall clock', () => {
  const a = setup(1_000n);
  a.rtc.write(RTC_TIME_HIGH, 4, 0);
  a.rtc.write(RTC_TIME_LOW, 4, 500); // guest sets the clock 500 ns back
  a.rtc.write(RTC_ALARM_HIGH, 4, 1);
  a.rtc.write(RTC_ALARM_LOW, 4, 2);
  a.rtc.write(RTC_IRQ_ENABLED, 4, 1);
  const b = setup(9_000n);
  const state = assertRoundTrip(a.rtc, b.rtc);
  assert.equal(state.offsetNs, 'fffffffffffffe0c', "minus 500 ns, as two's complement");
  assert.equal(state.alarmNs, '0000000100000002');
  assert.equal(readTime(b.rtc), 8_500n);
  assert.equal(b.rtc.read(RTC_ALARM_STATUS, 4), 1);
  assert.equal(b.rtc.read(RTC_ALARM_HIGH, 4), 1);
});

test('a fired alarm restores with its interrupt raised', () => {
  const a = setup(1_000n);
  a.rtc.write(RTC_IRQ_ENABLED, 4, 1);
  a.rtc.write(RTC_ALARM_HIGH, 4, 0);
  a.rtc.write(RTC_ALARM_LOW, 4, 500);
  assert.equal(a.line.level, true);
  const b = setup(1_000n);
  assertRoundTrip(a.rtc, b.rtc);
  assert.equal(b.line.level, true);
});

test('bad states are refused and change nothing', () => {
  const { rtc } = setup(1_000n);
  rtc.write(RTC_ALARM_LOW, 4, 7);
  const state = rtc.saveState();
  assertRefused(rtc, { ...state, offsetNs: 'x' }, /offsetNs must be a 64-bit value/);
  assertRefused(
    rtc,
    { ...state, timeHigh: 2 ** 32 },
    /timeHigh must be an integer from 0 to 4294967295/,
  );
  assertRefused(rtc, { ...state, armed: 'yes' }, /armed must be true or false/);
  assertMutationsRefused(rtc);
});
