import { formatResult, randomSeed, replayCommand, runCampaign } from "./campaign.js";

/**
 * `npm run chaos` (full) and `npm run chaos -- --short`. Options: `--only=a,b` runs some scenarios, `--seed=n`
 * replays a campaign; without it the seed is random, and printed with the command that replays it. Exits non-zero
 * on any violation.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const value = (name: string): string | undefined =>
    args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const seedArg = value("seed");
  const seed = seedArg === undefined ? randomSeed() : Number(seedArg);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${seedArg}`);
  const short = args.includes("--short");
  const only = value("only")?.split(",").filter(Boolean);
  const replay = replayCommand(seed, short, only);
  console.log(`seed ${seed}; replay with: ${replay}`);
  const result = await runCampaign({ short, only, seed });
  console.log(
    `\nchaos campaign ${result.short ? "short" : "full"}, seed ${result.seed}, ` +
      `${(result.durationMs / 1000).toFixed(0)} s`,
  );
  for (const scenario of result.scenarios) console.log(formatResult(scenario));
  console.log(`violations found: ${result.violations.length}`);
  for (const violation of result.violations) console.log(`  - ${violation}`);
  console.log(`replay this campaign with: ${replay}`);
  return result.violations.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
