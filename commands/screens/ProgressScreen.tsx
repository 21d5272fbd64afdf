/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** Progress of a multi-step operation (backup, import, cleanup). Renders props only. */
import { Box, Text } from 'ink';
import type { ProgressState, StepStatus } from '../ui/screens.js';

const MARK: Record<StepStatus, string> = { pending: '○', running: '◐', done: '✔', failed: '✘', skipped: '–' };
const COLOR: Record<StepStatus, string | undefined> = { pending: 'gray', running: 'cyan', done: 'green', failed: 'red', skipped: 'gray' };

export function ProgressBar({ fraction, width = 30 }: { fraction: number; width?: number }) {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return (
    <Text>
      <Text color="cyan">{'█'.repeat(filled)}</Text>
      <Text color="gray">{'░'.repeat(width - filled)}</Text>
      <Text> {Math.round(fraction * 100)}%</Text>
    </Text>
  );
}

export function ProgressScreen({ title, steps, fraction }: ProgressState) {
  return (
    <Box flexDirection="column">
      <Text bold>{title}</Text>
      {steps.map((step, i) => (
        <Box key={i} flexDirection="column">
          <Text>
            <Text color={COLOR[step.status]}>{MARK[step.status]}</Text> {step.label}
            {step.detail ? <Text color="gray"> — {step.detail}</Text> : null}
          </Text>
          {step.status === 'running' && fraction !== undefined ? (
            <Box marginLeft={2}>
              <ProgressBar fraction={fraction} />
            </Box>
          ) : null}
        </Box>
      ))}
    </Box>
  );
}
