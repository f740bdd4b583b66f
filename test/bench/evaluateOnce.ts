/** Child of evaluate.ts: loads index.ts under mocks and prints the time to the last resource registration. */
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { asRawConfig, secretKeySet } from "../harness/configs";

let lastRegistration = 0;
let resources = 0;
void pulumi.runtime.setMocks(
  {
    newResource(args) {
      resources++;
      lastRegistration = performance.now();
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  "thanos-global-view",
  "bench",
  true,
);
pulumi.runtime.setAllConfig(
  asRawConfig(JSON.parse(process.env.BENCH_CONFIG!) as Record<string, unknown>),
  [...secretKeySet(JSON.parse(process.env.BENCH_SECRET_KEYS!) as string[])],
);

const start = performance.now();
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded here, not hoisted, so loading is timed
require("../../index");
// Registrations finish asynchronously; the process exits once none is pending, and reports then.
process.on("beforeExit", () => {
  console.log(JSON.stringify({ milliseconds: lastRegistration - start, resources }));
  process.exit(0);
});
