/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** A yes/no question before a destructive step. Renders props; reports the key pressed through onAnswer. */
import { Box, Text, useInput } from 'ink';

export interface ConfirmScreenProps {
  question: string;
  details: readonly string[];
  onAnswer(yes: boolean): void;
}

export function ConfirmScreen({ question, details, onAnswer }: ConfirmScreenProps) {
  useInput((input, key) => {
    const c = input.toLowerCase();
    if (c === 'y') onAnswer(true);
    else if (c === 'n' || key.escape || key.return || (key.ctrl && c === 'c')) onAnswer(false);
  });
  return (
    <Box flexDirection="column">
      {details.map((line, i) => (
        <Text key={i} color="gray">
          {line}
        </Text>
      ))}
      <Text>
        <Text color="yellow" bold>
          ?{' '}
        </Text>
        {question} <Text color="gray">(y/N)</Text>
      </Text>
    </Box>
  );
}
