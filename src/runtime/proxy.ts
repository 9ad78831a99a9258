import { BlockList, isIP } from "node:net";

/**
 * The proxy the environment names for a URL, as Go's net/http (and so client-go and kubectl) reads it: HTTPS_PROXY for
 * https URLs, HTTP_PROXY for http ones (either case; upper case wins), unless NO_PROXY matches the host; `localhost`
 * and loopback addresses are never proxied. The API server connection and Bird requests both follow these rules.
 */
export function proxyFromEnv(target: URL, env: NodeJS.ProcessEnv): string | undefined {
  if (isLoopback(target.hostname.replace(/^\[|\]$/g, "").toLowerCase())) return undefined;
  const read = (name: string): string | undefined => env[name] || env[name.toLowerCase()] || undefined;
  const proxy =
    target.protocol === "https:" ? read("HTTPS_PROXY") : target.protocol === "http:" ? read("HTTP_PROXY") : undefined;
  if (!proxy) return undefined;
  return bypassesProxy(target, read("NO_PROXY") ?? "") ? undefined : proxy;
}

/**
 * NO_PROXY: comma-separated entries, each `*` (everything), an IP address, a CIDR range, or a domain that matches
 * itself and its subdomains (a leading `.` or `*.` matches subdomains only); any entry may end in `:port`.
 */
export function bypassesProxy(target: URL, noProxy: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = target.port || (target.protocol === "https:" ? "443" : "80");
  return noProxy
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .some((entry) => entry === "*" || matches(entry, host, port));
}

function matches(entry: string, host: string, port: string): boolean {
  let pattern = entry;
  let entryPort: string | undefined;
  const hostAndPort = pattern.includes("/") || isIP(pattern) === 6 ? null : /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(pattern);
  if (hostAndPort) [, pattern = "", entryPort] = hostAndPort;
  pattern = pattern.replace(/^\[|\]$/g, "");
  if (entryPort && entryPort !== port) return false;
  if (pattern.includes("/")) return inRange(pattern, host);
  if (isIP(pattern) || isIP(host)) return pattern === host;
  if (pattern.startsWith("*.") || pattern.startsWith(".")) return host.endsWith(pattern.replace(/^\*/, ""));
  return host === pattern || host.endsWith(`.${pattern}`);
}

function inRange(cidr: string, host: string): boolean {
  const [address = "", bits = ""] = cidr.split("/");
  const family = isIP(address);
  if (!family || isIP(host) !== family) return false;
  const list = new BlockList();
  list.addSubnet(address, Number(bits), family === 6 ? "ipv6" : "ipv4");
  return list.check(host, family === 6 ? "ipv6" : "ipv4");
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return isIP(host) === 6 && inRange("::1/128", host);
}
