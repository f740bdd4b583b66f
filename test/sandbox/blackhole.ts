// A port that swallows connections: an nftables rule drops every TCP packet this machine sends to one address and
// port, so a connect there hangs until the client's timeout, as towards a VM that is down or behind a dropping
// firewall (a port nobody listens on is refused at once instead). On the output hook, so it holds for a loopback
// address and for the VM on the sandbox cluster's bridge alike. The rule sits in a table of its own, named after this
// process, and only matches that address and port; the returned function removes the table.
import { execFileSync } from "node:child_process";

export interface Blackhole {
  address: string;
  port: number;
  /** Packets the rule dropped so far (a dial retransmits its SYN, so several per dial). */
  dropped(): number;
  remove(): void;
}

export function blackhole(address: string, port: number): Blackhole {
  const table = `thanos_global_view_blackhole_${process.pid}_${port}`;
  const nft = (...args: string[]) => execFileSync("nft", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  nft("add", "table", "ip", table);
  try {
    nft("add", "chain", "ip", table, "output", "{ type filter hook output priority 0; policy accept; }");
    nft("add", "rule", "ip", table, "output", "ip", "daddr", address, "tcp", "dport", String(port), "counter", "drop");
  } catch (error) {
    nft("delete", "table", "ip", table);
    throw error;
  }
  let removed = false;
  return {
    address,
    port,
    dropped: () => Number(/counter packets (\d+)/.exec(nft("list", "table", "ip", table))?.[1] ?? Number.NaN),
    remove: () => {
      if (removed) return;
      removed = true;
      nft("delete", "table", "ip", table);
    },
  };
}
