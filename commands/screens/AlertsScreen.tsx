/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** `arb alerts --watch`: one line per rule, firing ones in red, laid out to `width`. Renders props only. */
import { Box, Text } from 'ink';
import type { AlertResult } from '../../src/alerts/alerts.js';
import { pad, truncate } from '../ui/terminal.js';

export interface AlertsScreenProps {
  results: readonly AlertResult[];
  width?: number;
  /** "updated 12:00:05 UTC · every 5 s · Ctrl-C to stop" */
  footer?: string;
}

const state = (r: AlertResult) => (r.ok ? (r.skipped ? 'skipped' : 'ok') : 'ALERT');

export function AlertsScreen({ results, width = 100, footer }: AlertsScreenProps) {
  const firing = results.filter((r) => !r.ok);
  const ruleW = Math.max(...results.map((r) => r.rule.length), 4);
  const stateW = 7;
  const messageW = Math.max(10, width - 2 - ruleW - 2 - stateW - 2);
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">
        arb alerts — {firing.length === 0 ? <Text color="green">no alerts</Text> : <Text color="red">{`${firing.length} firing: ${firing.map((r) => r.rule).join(', ')}`}</Text>}
      </Text>
      <Box marginTop={1} flexDirection="column">
        {results.map((r) => {
          const color = r.ok ? (r.skipped ? 'gray' : 'green') : 'red';
          return (
            <Text key={r.rule}>
              <Text color={color}>{r.ok ? '●' : '▲'}</Text> {pad(r.rule, ruleW)}{' '}
              <Text color={color} bold={!r.ok}>
                {pad(state(r), stateW)}
              </Text>{' '}
              {truncate(r.message, messageW)}
            </Text>
          );
        })}
      </Box>
      {footer ? (
        <Box marginTop={1}>
          <Text color="gray" wrap="truncate">
            {footer}
          </Text>
        </Box>
      ) : null}
    </Box>
  );
}
