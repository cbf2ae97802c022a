/**
 * `deia prime`: the few lines an AI agent needs to use deia well, at most PRIME_MAX_BYTES.
 * Also what `hooks install --docs` writes into AGENTS.md / CLAUDE.md between markers.
 */
export const PRIME_MAX_BYTES = 1536;

export function primeText(bot: string | undefined): string {
  const who = bot
    ? `You are bot \`${bot}\` (DEIA_BOT). Other bots read and write the same hive.`
    : 'Your bot id is DEIA_BOT (or pass --as BOT). Other bots read and write the same hive.';
  return `# deia: coordinating with other bots

${who}

- Read mail: \`deia inbox --next --json\` claims your top unread message (each message goes to one claimer). \`deia inbox\` lists without claiming.
- Wait for mail: \`deia inbox --next --wait 30 --json\` (exit 1 when nothing came).
- Send: \`deia send BOT-ID "text" --priority P1\`; answer with \`--reply-to ID\`. \`deia bots\` lists who is there and who is stale.
- Tasks: \`deia task list --bot $DEIA_BOT\`, then \`deia task start ID\`, \`deia task done ID\` or \`deia task fail ID --reason "..."\`.
- Record other work so routing learns: \`deia record $DEIA_BOT code --success --duration 90s\`.
- Who should do it: \`deia recommend --task "fix the login test"\`.

Priorities: P0 = drop everything, handle now; P1 = before your next step; P2 = normal (default); P3 = when idle.
Read P0/P1 mail before you stop. Every command takes --json; errors are one line on stderr, exit 2 = bad input, 1 = failure or nothing found.
`;
}
