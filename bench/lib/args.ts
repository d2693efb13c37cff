/** The command line of a bench: `--name` flags and `--name value` options. */
export const args = process.argv.slice(2);

export const flag = (name: string) => args.includes(`--${name}`);

/** The value after `--name`, or `fallback` when it is not given. */
export function opt(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}
