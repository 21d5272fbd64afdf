/**
 * The terminal policy (commands/ui/terminal.ts), the one table renderer (ui/table.ts) and CSV output
 * (ui/output.ts) as functions: widths 60, 80 and 120, the order columns give way, colour on and off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyColorPolicy, colorEnabled, displayWidth, outputWidth, truncate } from '../../commands/ui/terminal.js';
import { renderTable, type Column } from '../../commands/ui/table.js';
import { outputFormat, toCsv } from '../../commands/ui/output.js';

const tty = { isTTY: true, columns: 120 };
const pipe = { isTTY: false };

test('colour: only on a TTY; NO_COLOR (non-empty), FORCE_COLOR=0 and TERM=dumb turn it off; FORCE_COLOR forces it', () => {
  assert.equal(colorEnabled(tty, {}), true);
  assert.equal(colorEnabled(pipe, {}), false);
  assert.equal(colorEnabled(tty, { NO_COLOR: '1' }), false);
  assert.equal(colorEnabled(tty, { NO_COLOR: '' }), true, 'no-color.org: an empty NO_COLOR is ignored');
  assert.equal(colorEnabled(tty, { FORCE_COLOR: '0' }), false);
  assert.equal(colorEnabled(tty, { TERM: 'dumb' }), false);
  assert.equal(colorEnabled(pipe, { FORCE_COLOR: '1' }), true);
  assert.equal(colorEnabled(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }), false, 'NO_COLOR wins');

  const env: Record<string, string | undefined> = {};
  applyColorPolicy(['stats', '--no-color'], env, tty);
  assert.deepEqual(env, { NO_COLOR: '1', FORCE_COLOR: '0' }, '--no-color reaches chalk (Ink) as FORCE_COLOR=0');
  const after = { COLUMNS: '80' } as Record<string, string | undefined>;
  applyColorPolicy(['logs', 'tail', '--', '--no-color'], after, tty);
  assert.deepEqual(after, { COLUMNS: '80' }, 'after -- it is an argument, not the flag');
  const piped: Record<string, string | undefined> = {};
  applyColorPolicy(['stats'], piped, pipe);
  assert.deepEqual(piped, { FORCE_COLOR: '0' });
});

test('width: the terminal on a TTY, COLUMNS on a pipe only when set; display width counts CJK and emoji double, ANSI none', () => {
  assert.equal(outputWidth({ isTTY: true, columns: 97 }, {}), 97);
  assert.equal(outputWidth({ isTTY: true, columns: 0 }, { COLUMNS: '61' }), 61);
  assert.equal(outputWidth({ isTTY: true }, {}), 80);
  assert.equal(outputWidth(pipe, {}), undefined);
  assert.equal(outputWidth(pipe, { COLUMNS: '60' }), 60);
  assert.equal(displayWidth('東京'), 4);
  assert.equal(displayWidth('\u001b[31mred\u001b[39m'), 3);
  assert.equal(displayWidth('sk-arb-AbCd…wxyz'), 16);
  assert.equal(truncate('GPT-4 Premium Access', 10), 'GPT-4 Pre…');
  assert.equal(displayWidth(truncate('東京東京東京', 5)), 5);
});

const head: Column[] = [
  { header: 'id', align: 'right', priority: 0 },
  { header: 'model', priority: 1 },
  { header: 'tokens', align: 'right', priority: 3 },
  { header: 'price', align: 'right', priority: 2 },
  { header: 'on sale', priority: 4 },
  { header: 'description', priority: 5 },
];
const rows = [
  [1, 'openai/gpt-4', '100,000', '$3.75', 'yes', 'GPT-4 Premium Access - 100k tokens'],
  [12, 'anthropic/claude-3.5-sonnet-20241022', '10,000,000', '$1,234,567.89', 'hold: margin', 'Claude 3.5 Sonnet for teams, 東京 office - 10M tokens'],
];

test('renderTable at 120, 80 and 60 columns: fits, numbers whole, the description gives way first, then on sale; compact style', () => {
  const at = (width: number) => renderTable(head, rows, { width, color: false });
  const wide = at(120);
  const lines = wide.split('\n');
  assert.equal(lines.length, 4, 'a header, one rule, one line per row: no rule between rows');
  assert.match(lines[0], /^id {2}model +tokens +price {2}on sale +description$/);
  assert.match(lines[1], /^─+ {2}─+/);
  assert.doesNotMatch(wide, /[│┌└├]/, 'no borders');
  for (const width of [120, 80, 70, 60]) {
    const out = at(width);
    for (const line of out.split('\n')) assert.ok(displayWidth(line) <= width, `${width}: ${line} (${displayWidth(line)})`);
    assert.match(out, /10,000,000/, `${width}: tokens whole`);
    assert.match(out, /\$1,234,567\.89/, `${width}: price whole`);
    assert.match(out, /^ 1 {2}openai\/gpt-4/m, `${width}: the id and the model stay`);
  }
  assert.match(at(120), /Claude 3\.5 Sonnet for teams, 東京 of…$/m, 'at 120 the description is cut with …');
  assert.match(at(80), /^12 {2}anthropic\/claude… {2}10,000,000 {2}\$1,234,567\.89 {2}hold: margin {2}Claude 3\.5 Sonn…$/m, 'at 80 the description is down to its minimum, then the model gives');
  assert.match(at(70), /^\(description hidden to fit 70 columns; widen the terminal or use --ou…$/m);
  assert.match(at(60), /^\(on sale, description hidden to fit 60 columns; widen the t…$/m);
  assert.match(at(60), /anthropic\/claude-3\.5-sonnet-…/, 'the model shrinks before it would be hidden');
  assert.equal(renderTable(head, rows, { width: null, color: false }).includes('東京 office - 10M tokens'), true, 'unlimited on a pipe');
});

test('renderTable: a header bold and the rule dim only with colour; plain string headers keep the old call shape', () => {
  const coloured = renderTable(['rule', 'state'], [['error_rate', 'ok']], { width: 80, color: true });
  // eslint-disable-next-line no-control-regex -- the assertion is about the ANSI bold and dim codes
  assert.match(coloured, /^\u001b\[1mrule {8}state\u001b\[22m\n\u001b\[2m─+ {2}─+\u001b\[22m\nerror_rate {2}ok$/);
  const plain = renderTable(['rule', 'state'], [['error_rate', 'ok']], { width: 80, color: false });
  // eslint-disable-next-line no-control-regex -- no ANSI escape at all without colour
  assert.doesNotMatch(plain, /\u001b/);
  // numbers are right-aligned and kept by default
  assert.match(
    renderTable(
      ['n', 'name'],
      [
        [5, 'a'],
        [1234, 'b'],
      ],
      { width: 80, color: false },
    ),
    /^ {3}5 {2}a\n1234 {2}b$/m,
  );
});

test('10,000 rows render whole: a header, its rule and every row (bench/cli.bench.ts measures the speed against cli-table3)', () => {
  const many = Array.from({ length: 10_000 }, (_, i) => [i + 1, `vendor/model-${i % 10}`, '100,000', '$3.75', 'yes', `package ${i}`]);
  const out = renderTable(head, many, { width: 100, color: false });
  const lines = out.split('\n');
  assert.equal(lines.length, 10_002);
  assert.match(lines.at(-1)!, /^10000 +vendor\/model-9 +100,000 +\$3\.75 +yes +package 9999$/);
});

test('CSV: RFC 4180 quoting, nested objects flattened, every field of every row; --json and --output csv conflict', () => {
  const csv = toCsv([
    { id: 1, description: 'GPT-4, "premium"', price_100k: { price_usd: 3.75, margin_percent: 25 }, tags: ['a'] },
    { id: 2, description: 'line\nbreak', extra: null },
  ]);
  assert.equal(csv, 'id,description,price_100k.price_usd,price_100k.margin_percent,tags,extra\n1,"GPT-4, ""premium""",3.75,25,"[""a""]",\n2,"line\nbreak",,,,\n');
  assert.equal(outputFormat({}), 'table');
  assert.equal(outputFormat({ json: true }), 'json');
  assert.equal(outputFormat({ output: { format: 'csv', rowsKey: 'keys' } }), 'csv');
  assert.equal(outputFormat({ json: true, output: { format: 'json', rowsKey: 'keys' } }), 'json');
  assert.throws(() => outputFormat({ json: true, output: { format: 'csv', rowsKey: 'keys' } }), /--output: --json and --output csv ask for two formats/);
});
